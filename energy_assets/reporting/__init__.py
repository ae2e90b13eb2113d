"""What people look at: charts for the materialisations' metadata, browser links to stored reports,
and the small server that opens local reports in a browser. No Dagster here."""
