"""The handler: one per vmm run.

It owns the configuration, the one database connection and its
transaction, and the directory work that must follow that transaction
(:mod:`vmm.staging`: new directories appear only once the transaction has
committed, removed ones go only then, and whatever a killed run left is
finished or undone when the next run connects).  Every method is one
subcommand's work; none prints — results are returned as plain data and
warnings collected in ``warnings``.
"""

from vmm.handler.accounts import AccountWork
from vmm.handler.aliases import AliasWork
from vmm.handler.dkim import DkimWork
from vmm.handler.domains import DomainWork
from vmm.handler.session import Session, postconf_int

__all__ = ['Handler', 'postconf_int']


class Handler(Session, DomainWork, AccountWork, AliasWork, DkimWork):
    """One run: its session (:mod:`vmm.handler.session`) and the work of
    every subcommand, one module per kind of thing."""
