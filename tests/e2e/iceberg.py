"""Reads Silt's topic tables with PyIceberg, as a data team would, and prints what it
saw as JSON for tests/e2e/iceberg.rs.

Usage: python iceberg.py '<json request>' where the request has
  catalog: PyIceberg REST catalog properties (uri, token, s3.* ...)
  table: the identifier, e.g. "silt.payments"
  columns: typed columns to report per row (optional)
  filter: a row filter whose plan to report (optional)
"""

import json
import sys

from pyiceberg.catalog import load_catalog
from pyiceberg.manifest import ManifestFile
from pyiceberg.table import StaticTable


def rows_of(scan, columns):
    table = scan.to_arrow()
    out = []
    for row in table.to_pylist():
        item = {
            "partition": row["partition"],
            "offset": row["offset"],
            "timestamp_us": int(row["timestamp"].timestamp() * 1_000_000) if row["timestamp"] else None,
            "key": row["key"].hex() if row["key"] is not None else None,
            "value": row["value"].hex() if row["value"] is not None else None,
            "headers": [[h["name"], h["value"].hex() if h["value"] is not None else None] for h in row["headers"]],
        }
        for column in columns:
            item[column] = row.get(column)
        out.append(item)
    out.sort(key=lambda r: (r["partition"], r["offset"]))
    return out


def main():
    request = json.loads(sys.argv[1])
    catalog = load_catalog("silt", **request["catalog"])
    columns = request.get("columns", [])
    report = {
        "namespaces": [list(n) for n in catalog.list_namespaces()],
        "tables": [list(t) for t in catalog.list_tables("silt")],
    }
    table = catalog.load_table(request["table"])
    report["metadata_location"] = table.metadata_location
    report["current_schema"] = {f.name: [f.field_id, str(f.field_type)] for f in table.schema().fields}
    report["schema_ids"] = sorted(table.schemas().keys())
    report["specs"] = sorted(table.specs().keys())
    snapshots = []
    for entry in table.history():
        snapshot = table.snapshot_by_id(entry.snapshot_id)
        scan = table.scan(snapshot_id=entry.snapshot_id)
        snapshots.append({
            "id": entry.snapshot_id,
            "schema_id": snapshot.schema_id,
            "operation": snapshot.summary.operation.value,
            "total_records": int(snapshot.summary["total-records"]),
            "rows": rows_of(scan, [c for c in columns if c in {f.name for f in table.schemas()[snapshot.schema_id].fields}]),
            "files": sorted(task.file.file_path for task in scan.plan_files()),
        })
    report["snapshots"] = snapshots
    report["rows"] = rows_of(table.scan(), columns)
    # Straight from the metadata file, with the storage settings the catalog gave.
    static = StaticTable.from_metadata(table.metadata_location, properties=dict(table.io.properties))
    report["static_rows"] = static.scan().to_arrow().num_rows

    if "filter" in request:
        fetched = []
        original = ManifestFile.fetch_manifest_entry

        def counting(self, *args, **kwargs):
            fetched.append(self.manifest_path)
            return original(self, *args, **kwargs)

        ManifestFile.fetch_manifest_entry = counting
        try:
            fresh = catalog.load_table(request["table"])
            scan = fresh.scan(row_filter=request["filter"])
            files = sorted(task.file.file_path for task in scan.plan_files())
            matched = scan.to_arrow().num_rows
        finally:
            ManifestFile.fetch_manifest_entry = original
        report["filter"] = {
            "files": files,
            "rows": matched,
            "manifests_read": len(set(fetched)),
            "manifests_total": len(fresh.current_snapshot().manifests(fresh.io)),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
