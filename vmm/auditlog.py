"""Reading the audit log (``vmm log``)."""

import re

from vmm.database import stream


def parse_since(text):
    """An ISO date (midnight, local time) or date and time (local time
    unless it names its offset), as an aware datetime; ValueError else."""
    import datetime
    text = text.strip()
    if re.fullmatch(r'[0-9]{4}-[0-9]{2}-[0-9]{2}', text):
        moment = datetime.datetime.combine(
            datetime.date.fromisoformat(text), datetime.time())
    else:
        moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment


_OBJECT_MATCH = """
    EXISTS (SELECT 1 FROM unnest(objects) AS o(v) WHERE
            CASE WHEN strpos(o.v, '@') > 0
                 THEN split_part(o.v, '@', 2) LIKE ANY(%(d)s)
                      AND split_part(o.v, '@', 1) LIKE %(l)s
                 ELSE %(domains_too)s AND o.v LIKE ANY(%(d)s) END)"""


def log_records(handler, since=None, pattern=None):
    """(time, OS user, sudo user, command, changes, objects) of the audit
    records, oldest first, streamed.

    *pattern* (vmm(1) ARGUMENTS) is matched against each record's objects: the
    domain part of addresses and domain names; a local part only against
    addresses (a local part of just ``%`` lets domain names match too)."""
    from vmm.models.listing import parse_pattern
    conditions, params = [], {}
    if since is not None:
        conditions.append('logged_at >= %(since)s')
        params['since'] = since
    if pattern is not None:
        local, domains = parse_pattern(pattern)
        conditions.append(_OBJECT_MATCH)
        params.update(d=domains, l=local or '%',
                      domains_too=local is None or not local.strip('%'))
    sql = ('SELECT logged_at, os_user, sudo_user, command, changes, objects '
           'FROM vmm_log')
    if conditions:
        sql += ' WHERE ' + ' AND '.join(conditions)
    return stream(handler.conn, 'vmm_log_records', sql + ' ORDER BY '
                   'logged_at, id', params)
