"""The built-in probes of clients measured against loopback fixtures (a fake mongod, a fake S3,
a fake Elasticsearch node, a websocket echo server, and the silent peer as a Kafka broker and a
Cassandra node), end to end: one ``python -m patchcheck scan ... --format json`` in a subprocess
with the real libraries, then each distribution's verdict, evidence and remedies.

Bounds as in test_real_probes.py: 300 ms waits, 3 copies, thresholds at the midpoints.
"""
from __future__ import annotations

import pytest
from pc_real_testutil import require_library
from pc_testutil import by_name, json_report, run_patchcheck
from test_real_probes import THREADPOOL, Case, check_measured, explain

GEVENT_CONNECTION = "Cluster(connection_class=cassandra.io.geventreactor.GeventConnection)"

CASES = [
    # PC110/PC120 at import: each is also measured imported before patch_all() (issue #10).
    Case("pymongo", "pymongo", "cooperates",
         {"pymongo.find": "cooperates", ("pymongo.find", "before-patch"): "cooperates"},
         known="agrees"),
    # PC120 at import: imported before patch_all(), KafkaAdminClient() never returns (its
    # network thread, a greenlet once patched, polls the unpatched selector chosen at import
    # on the hub's thread; the measured stack): PC209, warns. Patched first it cooperates.
    Case("kafka-python", "kafka", "order-sensitive",
         {"kafka-python.bootstrap": "cooperates",
          ("kafka-python.bootstrap", "before-patch"): "breaks"}, known="agrees"),
    # librdkafka's own threads do the I/O; list_topics(timeout) waits in C on the hub's thread.
    Case("confluent-kafka", "confluent_kafka", "blocks",
         {"confluent-kafka.list_topics": "blocks"},
         remedies={"confluent-kafka.list_topics": {THREADPOOL: "cooperates"}}, known="agrees"),
    # After patch_all() the driver picks GeventConnection itself; with LibevConnection (its
    # choice when cassandra.cluster is imported first) connect() never returns: a hang.
    Case("cassandra-driver", "cassandra", "breaks",
         {"cassandra-driver.connect": "cooperates", "cassandra-driver.connect_libev": "breaks"},
         remedies={"cassandra-driver.connect_libev": {GEVENT_CONNECTION: "cooperates"}},
         known="agrees"),
    # Imported first, creating the client raises RecursionError (gevent#1016): PC209, warns.
    Case("boto3", "boto3", "order-sensitive",
         {"boto3.list_objects": "cooperates", ("boto3.list_objects", "before-patch"): "breaks"},
         known="agrees"),
    Case("elasticsearch", "elasticsearch", "cooperates",
         {"elasticsearch.search": "cooperates",
          ("elasticsearch.search", "before-patch"): "cooperates"}, known="agrees"),
    Case("websocket-client", "websocket", "cooperates",
         {"websocket-client.echo": "cooperates",
          ("websocket-client.echo", "before-patch"): "cooperates"}, known="agrees"),
]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One scan of every installed distribution above (the hang ends at --timeout 15)."""
    present = []
    for case in CASES:
        try:
            require_library(case.module, case.dist)
        except pytest.skip.Exception:
            continue
        present.append(case.dist)
    if not present:
        pytest.skip("none of the clients is installed (pip install -r "
                    "tests/requirements-fakes.txt)")
    proc = run_patchcheck("scan", *present, "--format", "json", "--no-cache", "--timeout", "15",
                          cwd=tmp_path_factory.mktemp("fakes"))
    report = json_report(proc)
    assert not report.get("problems"), report.get("problems")
    return by_name(report)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.dist)
def test_fake_probe(case: Case, scanned: dict) -> None:
    require_library(case.module, case.dist)
    result = scanned[case.dist.lower()]
    # Keyed by name, or (name, order) for a measurement taken importing before patch_all().
    probes = {p["probe"] if p["order"] == "after-patch" else (p["probe"], p["order"]): p
              for p in result["probes"]}
    assert set(probes) == set(case.probes), sorted(probes, key=str)
    for name, outcome in case.probes.items():
        plain = probes[name]["plain"]
        check_measured(plain, outcome)
        measured = {m["remedy"]: m for m in probes[name]["remedies"]}
        for label, remedy_outcome in case.remedies.get(name, {}).items():
            assert label in measured, f"{name}: remedy {label!r} not measured: {sorted(measured)}"
            check_measured(measured[label], remedy_outcome)
        if outcome == "cooperates":
            assert not measured, explain(plain)
    assert result["verdict"] == case.verdict, (result["verdict"], result["findings"])
    statuses = [k["status"] for k in result.get("known", ())]
    assert case.known in statuses, statuses
