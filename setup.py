"""Build and install vmm.

The SQL and the Postfix/Dovecot files in ``pgsql/`` are installed as the
package ``vmm.pgsql`` (``vmm dbupgrade`` reads the schema from there), the
man pages under ``share/man``, and the gettext catalogs in ``po/`` are
compiled to ``vmm/locale/*/LC_MESSAGES/vmm.mo`` while building.
"""

import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py


def version():
    with open(os.path.join('vmm', '__init__.py'), encoding='utf-8') as f:
        for line in f:
            if line.startswith('__version__'):
                return line.split("'")[1]
    raise RuntimeError('no __version__ in vmm/__init__.py')


class BuildWithCatalogs(build_py):
    """Compile po/*.po into the package's locale directory."""

    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
        # An editable install runs the package from the source tree.
        package = 'vmm' if getattr(self, 'editable_mode', False) else \
            os.path.join(self.build_lib, 'vmm')
        for po_path in sorted(glob.glob(os.path.join('po', '*.po'))):
            lang = os.path.splitext(os.path.basename(po_path))[0]
            target = os.path.join(package, 'locale', lang, 'LC_MESSAGES')
            os.makedirs(target, exist_ok=True)
            with open(po_path, 'rb') as po_file:
                catalog = read_po(po_file, locale=lang)
            with open(os.path.join(target, 'vmm.mo'), 'wb') as mo_file:
                write_mo(mo_file, catalog)


setup(
    name='vmm',
    version=version(),
    description='Manage the mail domains, accounts and aliases of a '
                'Postfix + Dovecot server kept in PostgreSQL',
    long_description=open('README.rst', encoding='utf-8').read(),
    long_description_content_type='text/x-rst',
    license='BSD-3-Clause',
    python_requires='>=3.9',
    packages=['vmm', 'vmm.check', 'vmm.cli', 'vmm.exchange', 'vmm.handler',
              'vmm.models', 'vmm.pgsql', 'vmm.vacation', 'vmm.completion'],
    package_dir={'vmm.pgsql': 'pgsql'},
    package_data={'vmm.pgsql': ['*.sql', 'upgrade/*.sql', 'postfix/*',
                                'dovecot/*', 'opendkim/*'],
                  'vmm.completion': ['vmm', '_vmm']},
    data_files=[('share/man/man1', ['man/vmm.1']),
                ('share/man/man5', ['man/vmm.cfg.5']),
                ('share/bash-completion/completions',
                 ['vmm/completion/vmm']),
                ('share/zsh/site-functions', ['vmm/completion/_vmm'])],
    install_requires=[
        'psycopg2>=2.8',
        'idna>=3.0',
        'libpass>=1.9',
        'argon2-cffi>=21.0',
        'bcrypt>=4.0',
        'configupdater>=3.1',
        'cryptography>=38',
        'dnspython>=2.3',
    ],
    extras_require={
        'test': ['pytest>=7', 'hypothesis>=6', 'Babel>=2.12', 'wheel',
                 'ruff>=0.4', 'dkimpy>=1.1', 'PyNaCl>=1.5',
                 'dnslib>=0.9'],
    },
    entry_points={'console_scripts': ['vmm = vmm.cli:main']},
    cmdclass={'build_py': BuildWithCatalogs},
)
