"""Progress of long work: on a terminal's standard error only (a pty
here), never into a pipe or under --json."""

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from vmm.cli import output, progress


def _slow(count):
    for number in range(count):
        time.sleep(0.06)
        yield number


def _read_all(fd):
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:       # the other end is closed
            break
        if not data:
            break
        chunks.append(data)
    return b''.join(chunks).decode()


@pytest.fixture
def terminal(monkeypatch):
    """Yields a function that makes sys.stderr a pseudo-terminal (inside
    the test: pytest sets its own before each test) and returns its master
    side."""
    master, slave = pty.openpty()
    stream = os.fdopen(slave, 'w', buffering=1)

    def use():
        monkeypatch.setattr(sys, 'stderr', stream)
        return master
    yield use
    stream.close()
    os.close(master)


def test_a_terminal_sees_count_total_and_label(terminal):
    master = terminal()
    items = list(progress.progress(_slow(12), total=12, label="work"))
    assert items == list(range(12))
    shown = _read_all(master)
    assert 'work: ' in shown and '/12 (' in shown, repr(shown)
    # the line is wiped at the end
    assert shown.endswith('\r\x1b[K'), repr(shown)


def test_without_a_total_only_the_count(terminal):
    master = terminal()
    assert len(list(progress.progress(_slow(8), label='lines'))) == 8
    shown = _read_all(master)
    assert 'lines: ' in shown and '%' not in shown, repr(shown)


def test_quick_work_shows_nothing(terminal):
    master = terminal()
    assert list(progress.progress(range(1000), total=1000)) == \
        list(range(1000))
    assert _read_all(master) == ''


def test_json_mode_shows_nothing(terminal):
    master = terminal()
    assert len(list(progress.progress(_slow(8), total=8, label='work',
                                      out=output.Output(json=True)))) == 8
    assert _read_all(master) == ''


def test_a_pipe_sees_nothing(monkeypatch):
    read, write = os.pipe()
    stream = os.fdopen(write, 'w')
    monkeypatch.setattr(sys, 'stderr', stream)
    assert len(list(progress.progress(_slow(8), total=8))) == 8
    stream.close()
    with os.fdopen(read) as pipe:
        assert pipe.read() == ''


def _document(path, count, base):
    accounts = [{'local_part': 'u%d' % n, 'uid': 50000 + n,
                 'password': '{PLAIN}secret'} for n in range(count)]
    path.write_text(json.dumps({
        'format': 'vmm-export', 'version': 1, 'domains': [{
            'name': 'progress.example', 'gid': 50000,
            'directory': '%s/50000' % base, 'accounts': accounts}]}))


def _vmm(config_file, *args, stderr):
    return subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), 'vmm'),
         '--config', config_file] + list(args),
        stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)


def test_import_shows_progress_on_a_terminal_only(config_file, db,
                                                  mail_base, tmp_path):
    path = tmp_path / 'big.json'
    _document(path, 4000, mail_base)
    master, slave = pty.openpty()
    try:
        proc = _vmm(config_file, 'import', '--dry-run', str(path),
                    stderr=slave)
        os.close(slave)
        shown = []
        while proc.poll() is None:
            shown.append(_read_all(master))
        shown.append(_read_all(master))
        out = proc.stdout.read().decode()
        assert proc.wait() == 0, (out, shown)
    finally:
        os.close(master)
    shown = ''.join(shown)
    assert 'import: ' in shown and '/4001 (' in shown, repr(shown)
    assert 'would import' in out and '\r' not in out
    piped = _vmm(config_file, 'import', '--dry-run', str(path),
                 stderr=subprocess.PIPE)
    out_piped, err_piped = piped.communicate(timeout=120)
    assert piped.returncode == 0
    assert err_piped == b''
    assert out_piped.decode() == out
    assert db.scalar('SELECT count(*) FROM users') == 0


def test_export_to_a_file_shows_progress_on_a_terminal(config_file, db,
                                                       vmm, tmp_path):
    assert vmm('da', 'progress.example').code == 0
    db.query("INSERT INTO users (local_part, passwd, gid) "
             "SELECT 'u' || n, '{PLAIN}x', gid FROM domain_name, "
             "generate_series(1, 60000) n "
             "WHERE domainname = 'progress.example'")
    master, slave = pty.openpty()
    try:
        proc = _vmm(config_file, 'export', '-o', str(tmp_path / 'all.json'),
                    stderr=slave)
        os.close(slave)
        shown = []
        while proc.poll() is None:
            shown.append(_read_all(master))
        shown.append(_read_all(master))
        assert proc.wait() == 0
    finally:
        os.close(master)
    assert 'export: ' in ''.join(shown), shown
    document = json.loads((tmp_path / 'all.json').read_text())
    assert len(document['domains'][0]['accounts']) == 60000


def _on_terminal(config_file, *args):
    """Run vmm with its standard error on a pseudo-terminal: what the
    terminal showed, standard output, exit code."""
    master, slave = pty.openpty()
    try:
        proc = _vmm(config_file, *args, stderr=slave)
        os.close(slave)
        shown = []
        while proc.poll() is None:
            shown.append(_read_all(master))
        shown.append(_read_all(master))
        out = proc.stdout.read().decode()
    finally:
        os.close(master)
    return ''.join(shown), out, proc.wait()


def test_batch_shows_its_lines_and_wipes_the_line_before_an_error(
        config_file, db, vmm, tmp_path):
    assert vmm('da', 'progress.example').code == 0
    path = tmp_path / 'lines.txt'
    lines = ['aa a%d@progress.example x@elsewhere.example' % n
             for n in range(3000)]
    lines[2500] = 'aa bad@@progress.example x@elsewhere.example'
    path.write_text('\n'.join(lines) + '\n')
    shown, out, code = _on_terminal(config_file, 'batch',
                                    '--continue-on-error', str(path))
    assert code != 0, (shown, out)
    assert 'batch: ' in shown and '/3000 (' in shown, repr(shown)
    # The error starts at the left margin: the progress line was wiped
    # just before it.
    error = shown.index('line 2501: ')
    assert shown.rindex('\r\x1b[K', 0, error) > shown.rfind('batch: ', 0,
                                                              error), \
        repr(shown[max(0, error - 80):error + 40])
    assert db.scalar("SELECT count(*) FROM alias WHERE gid = (SELECT gid "
                     "FROM domain_name WHERE domainname = "
                     "'progress.example')") == 2999
    # Piped, the same batch prints the error line alone.
    db.query('DELETE FROM alias')
    piped = _vmm(config_file, 'batch', '--continue-on-error', str(path),
                 stderr=subprocess.PIPE)
    _out, err = piped.communicate(timeout=120)
    assert piped.returncode == code
    assert '\r' not in err.decode() and 'line 2501: ' in err.decode()
    assert 'batch:' not in err.decode()


def test_json_output_on_a_terminal_shows_no_progress(config_file, db,
                                                     mail_base, tmp_path):
    path = tmp_path / 'big.json'
    _document(path, 4000, mail_base)
    shown, out, code = _on_terminal(config_file, '--json', 'import',
                                    '--dry-run', str(path))
    assert code == 0, (shown, out)
    assert shown == '', repr(shown)
    assert json.loads(out)['dry_run'] is True
