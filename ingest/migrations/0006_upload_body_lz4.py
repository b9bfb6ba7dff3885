"""On PostgreSQL, the raw upload bodies are compressed with lz4 instead of the default pglz.

Every /submit stores its body in one row; PostgreSQL compresses a value of more than ~2 kB
(TOAST) before writing it, and with pglz that compression is most of the database's CPU time
per upload (docs/benchmarks.md, "/submit through the TLS proxy"). lz4 (PostgreSQL 14 and later,
when the server is built with it, as Debian's is) takes a fraction of that CPU for a similar
size. Only the column's new values change; rows already stored keep their compression and read
the same. A server without lz4 keeps pglz: the migration then changes nothing. SQLite has no
such setting.
"""
from django.db import migrations

SET_LZ4 = "ALTER TABLE ingest_upload ALTER COLUMN body SET COMPRESSION lz4"
SET_DEFAULT = "ALTER TABLE ingest_upload ALTER COLUMN body SET COMPRESSION default"


def _alter(sql):
    def run(apps, schema_editor):
        conn = schema_editor.connection
        if conn.vendor != "postgresql" or conn.pg_version < 140000:
            return
        with conn.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'"
                           " AND 'lz4' = ANY(enumvals))")
            if cursor.fetchone()[0]:
                cursor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("ingest", "0005_released_at_precal_end_cap")]

    operations = [migrations.RunPython(_alter(SET_LZ4), _alter(SET_DEFAULT))]
