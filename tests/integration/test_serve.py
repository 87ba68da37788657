"""`frazil serve` as a process: health, config, signals, WAL recovery."""
import json
import signal

from conftest import free_port, http_get, run_frazil
from wal_format import segment_header, record, segment_name, HEADER_SIZE


def test_healthz_and_unknown_path(start_broker):
    b = start_broker()
    health = b.wait_healthy()
    assert health["status"] == "ok"
    assert health["wals"] == 0
    status, _ = http_get(b.http_port, "/no-such-path")
    assert status == 404
    log = b.log()
    assert "[info]" in log and "HTTP listening on 127.0.0.1:%d" % b.http_port in log
    assert str(b.data_dir) in log


def test_sigterm_shuts_down_cleanly(start_broker):
    b = start_broker()
    b.wait_healthy()
    assert b.stop(signal.SIGTERM) == 0
    assert "shutdown complete" in b.log()


def test_sigint_shuts_down_cleanly(start_broker):
    b = start_broker()
    b.wait_healthy()
    assert b.stop(signal.SIGINT) == 0
    assert "received SIGINT" in b.log()
    assert "shutdown complete" in b.log()


def test_config_file_sets_http_and_flags_override(start_broker, tmp_path):
    port = free_port()
    cfg = tmp_path / "frazil.yaml"
    cfg.write_text(f"http: 127.0.0.1:{port}\nlog_level: debug\nwal:\n  sync_mode: periodic\n")
    b = start_broker(extra_args=["--config", str(cfg)], http_port=False)
    b.http_port = port
    assert b.wait_healthy()["status"] == "ok"
    assert b.stop() == 0

    # A flag beats the file.
    other = free_port()
    b2 = start_broker(extra_args=["--config", str(cfg)], http_port=other)
    assert b2.wait_healthy()["status"] == "ok"
    status, _ = http_get(other, "/healthz")
    assert status == 200
    assert b2.stop() == 0


def test_shipped_example_config_is_valid(start_broker):
    from conftest import REPO
    b = start_broker(extra_args=["--config", str(REPO / "config" / "frazil.yaml")])
    assert b.wait_healthy()["status"] == "ok"
    assert b.stop() == 0


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("wal:\n  sync_mode: sometimes\n")
    code, out = run_frazil("serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert code != 0
    assert "sync mode" in out and "sometimes" in out

    cfg.write_text("wal:\n  sync_mod: always\n")
    code, out = run_frazil("serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert code != 0 and "unknown key 'wal.sync_mod'" in out

    code, out = run_frazil("serve", "--config", str(tmp_path / "missing.yaml"))
    assert code != 0 and "missing.yaml" in out


def test_bad_flags_are_errors(tmp_path):
    code, out = run_frazil("serve", "--http", "nonsense", "--data-dir", str(tmp_path / "d"))
    assert code != 0 and "HOST:PORT" in out
    code, out = run_frazil("serve", "--no-such-flag")
    assert code != 0
    code, out = run_frazil("serve", "--log-level", "chatty", "--data-dir", str(tmp_path / "d"))
    assert code != 0 and "chatty" in out


def test_port_in_use_is_reported(start_broker, tmp_path):
    b = start_broker()
    b.wait_healthy()
    code, out = run_frazil("serve", "--data-dir", str(tmp_path / "d2"), "--http", f"127.0.0.1:{b.http_port}")
    assert code != 0 and str(b.http_port) in out


def _write_topic_wal(data_dir, records, tail=b""):
    d = data_dir / "wal" / "default" / "demo"
    d.mkdir(parents=True)
    body = segment_header(0) + b"".join(record(i, p) for i, p in enumerate(records))
    seg = d / segment_name(0)
    seg.write_bytes(body + tail)
    return d, seg, len(body)


def test_recovers_torn_tail_of_a_topic_wal(start_broker, tmp_path):
    data = tmp_path / "data"
    payloads = [b"first", b"second", b"third" * 10]
    torn = record(3, b"fourth, torn by a crash")[:17]
    d, seg, good_len = _write_topic_wal(data, payloads, tail=torn)

    b = start_broker(data_dir=data)
    assert b.wait_healthy()["wals"] == 1
    log = b.log()
    assert "opened WAL %s" % d in log
    assert "offsets [0, 3)" in log
    assert "truncat" in log and "[warning]" in log
    assert b.stop() == 0
    assert "WAL synced and closed: %s (next offset 3)" % d in b.log()
    assert seg.stat().st_size == good_len  # the torn bytes were cut, nothing else


def test_corruption_inside_the_log_keeps_that_topic_closed_and_the_broker_up(start_broker, tmp_path):
    """Damage the table does not cover: the topic stays unavailable with the
    file and byte named, its files untouched; other topics work."""
    data = tmp_path / "data"
    payloads = [b"a" * 10, b"b" * 10, b"c" * 10]
    d, seg, _ = _write_topic_wal(data, payloads)
    raw = bytearray(seg.read_bytes())
    second = HEADER_SIZE + len(record(0, payloads[0]))
    raw[second + 22] ^= 0xFF  # a payload byte of record 1; record 2 is still good
    seg.write_bytes(bytes(raw))
    before = seg.read_bytes()

    b = start_broker(data_dir=data)
    b.wait_healthy()
    log = b.log()
    assert str(seg) in log
    assert f"at byte {second}" in log
    assert "stays unavailable" in log
    status, body = http_get(b.http_port, "/healthz")
    unavailable = json.loads(body)["unavailable_topics"]
    assert list(unavailable) == ["/default/demo"] and f"at byte {second}" in unavailable["/default/demo"], body
    url = f"http://127.0.0.1:{b.listen_port}"
    code, out = run_frazil("produce", "-s", url, "-t", "/default/demo", "-m", "x", timeout=30)
    assert code != 0 and f"at byte {second}" in out, out
    code, out = run_frazil("produce", "-s", url, "-t", "/default/other", "-m", "x", timeout=30)
    assert code == 0, out
    assert b.stop() == 0
    assert seg.read_bytes() == before  # nothing modified


def test_standalone_catalog_is_pyicebergs_sql_catalog(start_broker):
    from pyiceberg.catalog.sql import SqlCatalog

    b = start_broker()
    health = b.wait_healthy()
    cat = health["catalog"]
    assert cat["name"] == "frazil"
    assert cat["uri"] == str(b.data_dir / "catalog.db")
    assert cat["warehouse"] == f"file://{b.data_dir.resolve() / 'warehouse'}"
    assert (b.data_dir / "catalog.db").is_file() and (b.data_dir / "warehouse").is_dir()
    py = SqlCatalog("frazil", uri=f"sqlite:///{b.data_dir / 'catalog.db'}", warehouse=cat["warehouse"])
    py.create_namespace("default")  # the broker holds the file open; PyIceberg writes beside it
    assert py.list_namespaces() == [("default",)]
    assert b.stop() == 0
