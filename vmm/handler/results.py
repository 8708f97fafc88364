"""What the handler's info methods return: plain, immutable values,
gathered with as few queries as the command needs, so that printing them
runs no SQL and holds nothing of the connection."""

import datetime
from dataclasses import dataclass
from typing import Optional, Tuple

from vmm.models.values import QuotaLimit, ServiceSet


@dataclass(frozen=True)
class AccountInfo:
    """userinfo: the account, and its settings as Postfix and Dovecot see
    them (its own, else its domain's: the ``*_inherited`` flags say
    which)."""
    address: str
    name: Optional[str]
    uid: int
    gid: int
    home: str
    mail_location: str
    quota: QuotaLimit
    quota_inherited: bool
    transport: str
    transport_inherited: bool
    services: ServiceSet
    services_inherited: bool
    note: Optional[str]
    # (bytes, messages) in use; None when nothing knows
    quota_usage: Optional[Tuple[int, int]]
    # asked for with -d du/full or account.disk_usage
    disk_usage: Optional[int] = None
    # ((alias, destination), …) with -d aliases/full
    pointing_here: Optional[Tuple[Tuple[str, str], ...]] = None


@dataclass(frozen=True)
class AccountOwner:
    """getuser: whose UID it is."""
    uid: int
    gid: int
    address: str


@dataclass(frozen=True)
class DomainCounts:
    accounts: int
    aliases: int
    alias_domains: int
    relocated: int
    catchall: int


@dataclass(frozen=True)
class DomainInfo:
    """domaininfo and domainlimits."""
    name: str
    gid: int
    directory: str
    quota: QuotaLimit
    services: ServiceSet
    transport: str
    note: Optional[str]
    max_accounts: int
    max_aliases: int
    max_alias_domains: int
    counts: DomainCounts


@dataclass(frozen=True)
class AliasDomainInfo:
    name: str
    primary: str


@dataclass(frozen=True)
class RelayDomainInfo:
    name: str
    transport: str
    recipients: Tuple[str, ...]
    note: Optional[str]


@dataclass(frozen=True)
class RelocatedInfo:
    address: str
    destination: str


@dataclass(frozen=True)
class DestinationsInfo:
    """aliasinfo and catchallinfo: the alias (or ``@domain``) as shown,
    and its destinations as stored."""
    name: str
    destinations: Tuple[str, ...]


@dataclass(frozen=True)
class DkimRecord:
    """A TXT record to publish: its name (no trailing dot) and its text
    as the strings of the record (255 characters at most each)."""
    name: str
    value: Tuple[str, ...]


@dataclass(frozen=True)
class DkimKeyInfo:
    """dkiminfo: one key without its private half, and its record under
    every name of the domain (primary first)."""
    selector: str
    algorithm: str
    state: str
    since: datetime.datetime
    records: Tuple[DkimRecord, ...]


@dataclass(frozen=True)
class RetiredDkimKey:
    """purge: a key that became retired and the records that may go."""
    domain: str
    selector: str
    records: Tuple[str, ...]
