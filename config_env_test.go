package tldw

import (
	"reflect"
	"testing"
)

func TestEnvWarnings(t *testing.T) {
	set := map[string]string{"SENTRY_DSN": "https://k@sentry/1", "CACHE_TTL_SECONDS": " "}
	lookup := func(k string) (string, bool) { v, ok := set[k]; return v, ok }
	got := EnvWarnings(lookup, []string{"DATABASE_POOL_MAX_SIZE", "JWT_SECONDARY_SECRET", "LOG_LEVEL", "SENTRY_DSN", "jwt_secret_kye", "POSTGRES_PASSWORD"})
	want := []string{
		"SENTRY_DSN is not supported and has no effect: " + unsupportedKeys["SENTRY_DSN"],
		"jwt_secret_kye in the env file is not a tldw configuration key and is ignored; did you mean JWT_SECRET_KEY?",
		"POSTGRES_PASSWORD in the env file is not a tldw configuration key and is ignored",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvWarnings =\n%q\nwant\n%q", got, want)
	}
}
