"""The things vmm keeps, one class each, and the value types they share.

Model classes take a database cursor and issue hand-written SQL with bound
parameters; they never print and never touch the file system themselves.
"""
