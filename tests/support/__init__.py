"""The test election and the collector process that every test package shares (tests/ is on
sys.path through the rootdir conftest, so test packages import `support.election` and
`support.collector_process`)."""
