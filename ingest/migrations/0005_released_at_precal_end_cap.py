"""Upload.released_at (an operator's release from the event-time window), and precalibration end
times capped to when their upload was received, as the indexer now stores them: a map stored
earlier with an end time in the future would otherwise still outrank every real one."""

from django.db import migrations, models


def cap_precal_end_times(apps, schema_editor):
    PreCalibration = apps.get_model("ingest", "PreCalibration")
    for row in PreCalibration.objects.select_related("upload").exclude(end_ms=None).iterator():
        received = row.upload.received_at if row.upload is not None else row.updated_at
        cap = int(received.timestamp() * 1000)
        if row.end_ms > cap:
            PreCalibration.objects.filter(pk=row.pk).update(end_ms=cap)


class Migration(migrations.Migration):

    dependencies = [
        ("ingest", "0004_device_trust"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="released_at",
            field=models.DateTimeField(
                blank=True, null=True,
                help_text="when an operator released it from quarantine: indexed despite the event-time window"),
        ),
        migrations.RunPython(cap_precal_end_times, migrations.RunPython.noop),
    ]
