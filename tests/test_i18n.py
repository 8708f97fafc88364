"""Translations: complete catalogs for de, fr, nl, fi and vi, compiled when
the package is built, chosen from the environment without any system
locale, and used for errors, labels and argparse's own messages."""

import os
import subprocess
import sys
import tempfile
import zipfile

import pytest
from babel.messages.pofile import read_po

ROOT = os.path.join(os.path.dirname(__file__), '..')
PO = os.path.join(ROOT, 'po')
LANGUAGES = ('de', 'fr', 'nl', 'fi', 'vi')


def catalog(lang):
    with open(os.path.join(PO, lang + '.po'), 'rb') as handle:
        return read_po(handle, locale=lang)


def template():
    with open(os.path.join(PO, 'vmm.pot'), 'rb') as handle:
        return read_po(handle)


#: What a speaker of each language reads, written down here rather than
#: read from the catalog under test: the title and a label of domaininfo,
#: an error, the "Error:" prefix and argparse's missing-argument message.
SPOKEN = {
    'de': ('Domain-Informationen', 'Domainname',
           "Das Konto 'nobody@example.org' existiert nicht", 'Fehler: ',
           'folgende Argumente sind erforderlich: '),
    'fr': ('Informations sur le domaine', 'Nom de domaine',
           "Le compte « nobody@example.org » n'existe pas", 'Erreur : ',
           'les arguments suivants sont requis : '),
    'nl': ('Domeininformatie', 'Domeinnaam',
           "Het account 'nobody@example.org' bestaat niet", 'Fout: ',
           'de volgende argumenten zijn vereist: '),
    'fi': ('Verkkotunnuksen tiedot', 'Verkkotunnus',
           "Tiliä 'nobody@example.org' ei ole olemassa", 'Virhe: ',
           'seuraavat argumentit vaaditaan: '),
    'vi': ('Thông tin tên miền', 'Tên miền',
           "Tài khoản 'nobody@example.org' không tồn tại", 'Lỗi: ',
           'cần có các đối số sau: '),
}


@pytest.mark.parametrize('lang', LANGUAGES)
def test_msgfmt_check(lang):
    proc = subprocess.run(['msgfmt', '--check', '-o', os.devnull,
                           os.path.join(PO, lang + '.po')],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize('lang', LANGUAGES)
def test_complete_without_fuzzy_and_babel_checks(lang):
    po, pot = catalog(lang), template()
    assert {m.id for m in pot if m.id} == {m.id for m in po if m.id}
    for message in po:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        strings = message.string if isinstance(message.string, tuple) \
            else (message.string,)
        assert all(strings), message.id
        assert not list(message.check(po)), message.id


def test_template_holds_every_string_of_the_code():
    import argparse
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'now.pot')
        subprocess.run([os.path.join(os.path.dirname(sys.executable),
                                     'pybabel'), '-q', 'extract',
                        '--no-location', '-k', '_', '-k', 'ngettext:1,2',
                        '-o', out, os.path.join(ROOT, 'vmm'),
                        argparse.__file__], check=True)
        with open(out, 'rb') as handle:
            now = {m.id for m in read_po(handle) if m.id}
    missing = now - {m.id for m in template() if m.id}
    assert not missing, 'run `make catalogs`: %s' % sorted(missing)[:5]


def test_wheel_carries_catalogs_man_pages_and_completion(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--quiet',
                    '--no-deps', '--no-build-isolation', '-w', str(tmp_path),
                    ROOT], check=True)
    wheel = next(p for p in os.listdir(tmp_path) if p.endswith('.whl'))
    names = zipfile.ZipFile(tmp_path / wheel).namelist()
    for lang in LANGUAGES:
        assert 'vmm/locale/%s/LC_MESSAGES/vmm.mo' % lang in names
    # pip install puts the man pages and completions under the prefix,
    # where man finds them through PATH.
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    subprocess.run([sys.executable, '-m', 'pip', '--python',
                    str(venv / 'bin' / 'python'), 'install', '--quiet',
                    '--no-deps', str(tmp_path / wheel)], check=True)
    for path in ('share/man/man1/vmm.1', 'share/man/man5/vmm.cfg.5',
                 'share/bash-completion/completions/vmm',
                 'share/zsh/site-functions/_vmm'):
        assert (venv / path).is_file(), path
    found = subprocess.run(['man', '-w', 'vmm'], capture_output=True,
                           text=True, env=dict(os.environ, PATH='%s:%s' % (
                               venv / 'bin', os.environ['PATH']))).stdout
    assert found.strip() == str(venv / 'share/man/man1/vmm.1')


@pytest.mark.parametrize('lang', LANGUAGES)
def test_commands_speak_the_language(vmm, db, lang):
    env = {'LANGUAGE': lang, 'LC_ALL': 'C', 'LANG': 'C'}
    assert vmm('da', 'example.org').code == 0
    result = vmm('di', 'example.org', env=env)
    assert result.code == 0
    title, label, missing, prefix, required = SPOKEN[lang]
    assert title in result.out and label in result.out
    error = vmm('ui', 'nobody@example.org', env=env)
    assert error.code == 52
    assert error.err == prefix + missing + '\n'
    usage = vmm('da', env=env)
    assert usage.code == 2
    assert required in usage.err


@pytest.mark.parametrize('variable', ['LANGUAGE', 'LC_ALL', 'LC_MESSAGES',
                                      'LANG'])
def test_language_variables_in_gettext_order(vmm, db, variable):
    env = {'LANGUAGE': '', 'LC_ALL': '', 'LC_MESSAGES': '', 'LANG': ''}
    env[variable] = 'fr_FR.UTF-8' if variable != 'LANGUAGE' else 'fr'
    result = vmm('di', 'nosuch.example', env=env)
    assert result.code == 57
    assert result.err == "Erreur : Le domaine « nosuch.example » n'existe " \
        'pas\n'


def test_unencodable_output_does_not_crash(vmm, db, config_file):
    assert vmm('da', 'bücher.example').code == 0
    env = dict(os.environ, PYTHONIOENCODING='ascii', LANG='C', LC_ALL='C',
               VMM_CONFIG=config_file)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable),
                                        'vmm'), 'ld'], capture_output=True,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert b'b?cher.example' in proc.stdout
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable),
                                        'vmm'), 'di', 'bücher.example'],
                          capture_output=True,
                          env=dict(env, LANGUAGE='vi'))
    assert proc.returncode == 0 and b'Traceback' not in proc.stderr
