package tldw

import (
	"fmt"
	"slices"
	"strings"
)

// unsupportedKeys are keys the deployment guide or Python tldw_server use that tldw does not
// support, with what to do instead.
var unsupportedKeys = map[string]string{
	"SENTRY_DSN":            "errors are not reported to Sentry; collect the logs (LOG_FORMAT=json) instead",
	"NEW_RELIC_LICENSE_KEY": "there is no New Relic agent; scrape /metrics with Prometheus instead",
	"CACHE_TTL_SECONDS":     "tldw caches no lookups besides sessions; SESSION_CACHE_TTL sets that cache",
}

// EnvWarnings returns one warning for each key tldw does not support that lookup reports
// set (SENTRY_DSN, ...), and for each key of an env file (fileKeys) that is not a tldw key
// at all, suggesting the closest known key when it looks like a typo. Warnings name keys,
// never values.
func EnvWarnings(lookup func(string) (string, bool), fileKeys []string) []string {
	var known []string
	for _, e := range configKeys() {
		known = append(known, e.Key)
		known = append(known, e.Aliases...)
	}
	var w []string
	unsupported := make([]string, 0, len(unsupportedKeys))
	for k := range unsupportedKeys {
		unsupported = append(unsupported, k)
	}
	slices.Sort(unsupported)
	for _, k := range unsupported {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			w = append(w, fmt.Sprintf("%s is not supported and has no effect: %s", k, unsupportedKeys[k]))
		}
	}
	for _, k := range fileKeys {
		if slices.Contains(known, k) || unsupportedKeys[k] != "" {
			continue
		}
		msg := fmt.Sprintf("%s in the env file is not a tldw configuration key and is ignored", k)
		if s := closest(k, known); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		w = append(w, msg)
	}
	return w
}

// closest returns the candidate nearest to s (case-insensitive edit distance of at most 2, or
// 3 for long keys), or "" when none is that near.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	if len(s) >= 16 {
		bestD = 4
	}
	for _, c := range candidates {
		if d := editDistance(strings.ToUpper(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
