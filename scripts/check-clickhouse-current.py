"""The origin's ClickHouse schema on a current ClickHouse release (chDB, in process), against
18.16: applies schema/clickhouse.sql to chDB, copies the base tables of a database the origin
wrote on the 18.16 server, and compares the cohort views row for row with that server's.
Run by scripts/check-clickhouse-current.sh (not part of the test suite: it needs chDB).
    check-clickhouse-current.py CLICKHOUSE_HTTP_URL DATABASE
"""
import sys
import tempfile
import urllib.request

from chdb import session

VIEWS = [
    ("cohort_retention", "cohort_day, source, campaign, day_offset"),
    ("cohort_revenue", "cohort_day, source, campaign, day_offset, currency"),
    ("daily_attribution", "app_id, day, source, campaign, model, currency"),
]
BASE_TABLES = ["events", "attributions", "attribution_credits", "conversion_stats", "merges"]


def main(url, database):
    def old(query):
        request = urllib.request.Request(url, data=query.encode())
        return urllib.request.urlopen(request).read().decode()

    current = session.Session(tempfile.mkdtemp(prefix="attrib-chdb-"))
    version = current.query("SELECT version()", "TabSeparated").bytes().decode().strip()
    with open(sys.path[0] + "/../origin/schema/clickhouse.sql") as f:
        lines = [l for l in f.read().split("\n") if not l.strip().startswith("--")]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            current.query(statement.strip().replace("{database}", "current"))
    for table in BASE_TABLES:
        rows = old(f"SELECT * FROM {database}.{table} FORMAT TabSeparated")
        if rows:
            current.query(f"INSERT INTO current.{table} FORMAT TabSeparated\n{rows}")
    failed = False
    for view, order in VIEWS:
        query = f"SELECT * FROM {{}}.{view} ORDER BY {order}"
        want = old(query.format(database) + " FORMAT TabSeparated")
        got = current.query(query.format("current"), "TabSeparated").bytes().decode()
        same = got == want and want != ""
        failed |= not same
        print(f"{view}: {len(want.splitlines())} rows on 18.16, "
              f"{'the same' if same else 'DIFFERENT'} on {version}")
        if not same:
            print(f"18.16:\n{want}\n{version}:\n{got}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
