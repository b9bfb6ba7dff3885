"""The baseline bench/ingest.py compares /submit with: the conventional DRF way to take the events.

POST /bench/baseline-submit with {"events": [...]} (the DataChunk's events as JSON, L2 payload
included): a DRF APIView parses the JSON, validates every event with a serializer and then
writes one row per request in its own transaction. Routed only by bench.drf_baseline.urls.
"""
from __future__ import annotations

import hashlib

from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.models import Upload


class ByteBlockSerializer(serializers.Serializer):
    x = serializers.ListField(child=serializers.IntegerField(min_value=0))
    y = serializers.ListField(child=serializers.IntegerField(min_value=0))
    val = serializers.ListField(child=serializers.IntegerField(min_value=0))
    side_length = serializers.IntegerField(min_value=1)


class EventSerializer(serializers.Serializer):
    timestamp = serializers.IntegerField(min_value=0)
    timestamp_nano = serializers.IntegerField(min_value=0, required=False)
    gps_lat = serializers.FloatField(min_value=-90, max_value=90)
    gps_lon = serializers.FloatField(min_value=-180, max_value=180)
    gps_accuracy = serializers.FloatField(min_value=0, required=False)
    gps_altitude = serializers.FloatField(required=False)
    avg = serializers.FloatField()
    std = serializers.FloatField(min_value=0)
    xbn = serializers.IntegerField(min_value=0)
    orient_x = serializers.FloatField(required=False)
    orient_y = serializers.FloatField(required=False)
    orient_z = serializers.FloatField(required=False)
    pressure = serializers.FloatField(required=False)
    exposure_time = serializers.IntegerField(min_value=0, required=False)
    byte_block = ByteBlockSerializer(required=False)


class ChunkSerializer(serializers.Serializer):
    events = EventSerializer(many=True)


class BaselineSubmit(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        device_id = request.headers.get("Device-id", "")
        if not device_id:
            return Response({"error": "missing Device-id header"}, status=400)
        raw = request.body
        chunk = ChunkSerializer(data=request.data)
        if not chunk.is_valid():
            return Response({"error": chunk.errors}, status=400)
        Upload.objects.create(device_id=device_id, sha256=hashlib.sha256(raw).hexdigest(), body=raw,
                              size=len(raw), received_at=timezone.now(),
                              remote_addr=request.META.get("REMOTE_ADDR", "")[:64])
        return Response({}, status=202)


bench_baseline_submit = BaselineSubmit.as_view()
