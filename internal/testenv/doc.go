// Package testenv gives integration tests their own PostgreSQL database and
// Redis key prefix.
//
// It uses the servers named by TLDW_TEST_POSTGRES_URL and TLDW_TEST_REDIS_URL
// when set; otherwise it starts containers with testcontainers-go (once per
// test binary, reaped when the binary exits) when Docker is available;
// otherwise the test is skipped, or fails when TLDW_REQUIRE_INTEGRATION=1.
//
// Import it from _test.go files only, so testcontainers never links into a
// real binary.
package testenv
