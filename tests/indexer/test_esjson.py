"""indexer.esjson: the NDJSON serializer gives the client's own bytes for every input form."""
from __future__ import annotations

from elasticsearch.serializer import NdjsonSerializer

from indexer.esjson import fast_serializers


def test_ndjson_matches_the_clients_serializer():
    ours = fast_serializers()["application/vnd.elasticsearch+x-ndjson"]
    stock = NdjsonSerializer()
    cases = [
        b'{"create":{"_index":"i","_id":"a"}}\n{"x":1}\n',              # one body, newline-terminated
        b'{"create":{"_index":"i","_id":"a"}}\n{"x":1}',                # one body without the last newline
        '{"delete":{"_id":"\u00e9"}}',                                  # text
        [b'{"create":{}}', b'{"x":1}\n', '{"y":"\u00e9"}', {"z": [1, 2.5, None, "\u00e9\n"]}],  # helper lines
    ]
    for data in cases:
        assert ours.dumps(data) == stock.dumps(data)
    body = cases[0]
    assert ours.dumps(body) is body  # already NDJSON: sent as it is, not copied
