"""Error classes of vmm and the exit status each one maps to (vmm(1),
EXIT STATUS).

Every failure a user can cause is a :class:`VMMError` carrying its exit
code; the CLI prints its message as one line and exits with that code.
"""

# Exit codes of vmm(1) EXIT STATUS, by name, so that code reads what it means.
USAGE = 2
INTERRUPTED = 3
ALIAS_AND_ACCOUNT_EXIST = 20
ACCOUNT_EXISTS = 21
ALIASDOMAIN_EXISTS = 23
ALIASDOMAIN_ISDOMAIN = 24
ALIASDOMAIN_NO_DOMDEST = 25
TOO_MANY_DESTINATIONS = 27
ALIAS_EXISTS = 28
ALIAS_PRESENT = 30
CONF_ERROR = 31
CONF_NOFILE = 32
CONF_NOPERM = 33
CONF_WRONGPERM = 34
DATABASE_ERROR = 35
DOMAIN_ALIAS_EXISTS = 37
DOMAIN_EXISTS = 38
DOMAIN_INVALID = 39
DOMAIN_NO_NAME = 40
DOMAIN_TOO_LONG = 41
INVALID_ADDRESS = 43
INVALID_OPTION = 44
INVALID_SECTION = 46
LOCALPART_INVALID = 47
LOCALPART_TOO_LONG = 48
NOT_EXECUTABLE = 51
NO_SUCH_ACCOUNT = 52
NO_SUCH_ALIAS = 53
NO_SUCH_ALIASDOMAIN = 54
NO_SUCH_BINARY = 55
NO_SUCH_DIRECTORY = 56
NO_SUCH_DOMAIN = 57
NO_SUCH_RELOCATED = 58
RELOCATED_ADDR_DEST_IDENTICAL = 59
RELOCATED_EXISTS = 60
UNKNOWN_SERVICE = 65
VMM_ERROR = 67
VMM_TOO_MANY_FAILURES = 68
ACCOUNT_MISSING_PASSWORD = 69
MAILLOCATION_INIT = 70
DOMAIN_LIMIT_REACHED = 71
ALIAS_LOOP = 72
IMPORT_INVALID = 73
CHECK_FAILED = 74


class VMMError(Exception):
    """A failure that ends the command with one message and an exit code."""

    def __init__(self, msg, code=VMM_ERROR):
        super().__init__(msg)
        self.msg = msg
        self.code = code

    def __str__(self):
        return self.msg


class ConfigError(VMMError):
    """The configuration file or one of its values is unusable."""

    def __init__(self, msg, code=CONF_ERROR):
        super().__init__(msg, code)


class DatabaseError(VMMError):
    """The database cannot be reached, refused a query or lacks our schema."""

    def __init__(self, msg):
        super().__init__(msg, DATABASE_ERROR)
