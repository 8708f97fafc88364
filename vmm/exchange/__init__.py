"""Export and import of whole domains (vmm(1), EXPORT FORMAT).

``export`` writes one JSON document, format ``vmm-export`` version 1 (the
man page documents every key), streamed domain by domain from server-side
cursors of one read-only snapshot, so that memory does not grow with the
number of accounts.

``import`` loads such a document, or a CSV file of accounts
(``address,password,name``), in the handler's one transaction: everything
is checked first, the first problem is an :class:`InvalidImport` (exit 73)
naming the record and the field, an object that exists already is such a
problem, and ``--dry-run`` rolls back.  A JSON import keeps GIDs, UIDs and
directories and prepares missing domain directories and mailboxes, which
appear once the import has committed; a CSV import creates accounts as
``useradd`` does.

:mod:`.export` writes the document, :mod:`.importing` reads a file and
hands it to :mod:`.document` (checks a JSON document) and :mod:`.load`
(writes it), or to :mod:`.csvfile`.
"""

import contextlib

from vmm import errors
from vmm.errors import VMMError

FORMAT = 'vmm-export'
VERSION = 1

MAX_ID = 4294967294            # the highest GID/UID the sequences hand out
MAX_INT = 2 ** 31 - 1          # integer columns
MAX_BYTES = 2 ** 63 - 1        # bigint columns
MAX_DIRECTORY = 4096           # domain_data.domaindir
MAX_MAILBOX_DIRECTORY = 20     # maillocation.directory

COUNT_KEYS = ('domains', 'alias_domains', 'accounts', 'aliases', 'catchall',
              'relocated', 'relay_domains')


class InvalidImport(VMMError):
    """The import file is unusable; the message starts with the record and
    field (``domains[2].accounts[5].uid: …`` or ``line 3, field
    address: …``)."""

    def __init__(self, where, message):
        super().__init__('%s: %s' % (where, message) if where else message,
                         errors.IMPORT_INVALID)


@contextlib.contextmanager
def at(where):
    """Turn a value error raised inside into an InvalidImport at *where*."""
    try:
        yield
    except InvalidImport:
        raise
    except VMMError as err:
        raise InvalidImport(where, err.msg) from None


@contextlib.contextmanager
def located(where):
    """Prefix *where* to an error of the environment, keeping its code."""
    try:
        yield
    except InvalidImport:
        raise
    except VMMError as err:
        raise VMMError('%s: %s' % (where, err.msg), err.code) from None



def dump(value):
    """*value* as JSON; ASCII only: the document is the same bytes
    whatever the locale."""
    import json
    return json.dumps(value, ensure_ascii=True)

