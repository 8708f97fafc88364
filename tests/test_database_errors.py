"""A database that cannot be used is one clear line and exit 35."""

import pytest

from conftest import servers, write_config


def one_line_35(result):
    assert result.code == 35, result
    assert result.err.count('\n') == 1 and 'Traceback' not in result.err
    return result.err


@pytest.fixture
def make_cfg(tmp_path, pg, mail_base):
    def make(**database):
        return write_config(tmp_path / 'vmm.cfg', pg, 'postgres', mail_base,
                            database=database)
    return make


def test_unreachable_server(vmm, make_cfg):
    vmm.config = make_cfg(host='127.0.0.1', port=str(servers.free_port()))
    assert 'connect' in one_line_35(vmm('ld'))


def test_failed_login(vmm, make_cfg, pg):
    vmm.config = make_cfg(user='nosuchrole')
    assert 'nosuchrole' in one_line_35(vmm('ld'))


def test_missing_database(vmm, make_cfg):
    vmm.config = make_cfg(name='nosuchdb')
    assert 'nosuchdb' in one_line_35(vmm('ld'))


def test_database_without_schema_says_dbupgrade(vmm, make_cfg, pg):
    pg.execute('CREATE DATABASE empty_for_test')
    try:
        vmm.config = make_cfg(name='empty_for_test')
        assert 'dbupgrade' in one_line_35(vmm('da', 'example.org'))
        result = vmm('dbupgrade')
        assert result.code == 0, result.err
        assert vmm('da', 'example.org').code == 0
        assert 'nothing to do' in vmm('dbupgrade').out
    finally:
        pg.execute('DROP DATABASE empty_for_test WITH (FORCE)')


def test_foreign_tables_are_left_alone(vmm, make_cfg, pg):
    pg.execute('CREATE DATABASE foreign_for_test')
    try:
        pg.execute('CREATE TABLE customers (id int)',
                   dbname='foreign_for_test')
        vmm.config = make_cfg(name='foreign_for_test')
        one_line_35(vmm('dbupgrade'))
        assert pg.execute("SELECT count(*) FROM pg_tables WHERE schemaname "
                          "= 'public'", dbname='foreign_for_test') == [(1,)]
    finally:
        pg.execute('DROP DATABASE foreign_for_test WITH (FORCE)')


def test_mismatched_host_and_port_lists(vmm, make_cfg):
    vmm.config = make_cfg(host='a,b,c', port='1,2')
    assert 'port' in one_line_35(vmm('ld'))
