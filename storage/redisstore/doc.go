// Package redisstore keeps the state that several tldw replicas must share in Redis (through
// redis/rueidis): rate limits, lockout counters, the session-revocation cache and pub/sub.
// Without REDIS_URL the App keeps that state in process instead.
package redisstore
