package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"
)

// Genesis is the PrevHash of the first record of a chain (Seq 1).
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// canonVersion starts every canonical encoding, so the encoding can change later without
// old and new hashes colliding.
const canonVersion = "tldw-audit/1"

// timeLayout is the fixed-width UTC layout with microseconds used by Canonical, the
// checkpoint MAC and the text log format.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Record is one stored link of the audit hash chain: an event with its position and hashes.
type Record struct {
	Seq      int64  `json:"seq"`       // 1, 2, 3, ... without gaps (a purge removes a prefix)
	Event    Event  `json:"event"`     // the stored (redacted) event
	PrevHash string `json:"prev_hash"` // Hash of the record at Seq-1, or Genesis (or a purge checkpoint's Hash)
	Hash     string `json:"hash"`      // Hash(PrevHash, Event), lower-case hex
}

// Canonical returns the deterministic byte encoding of e that [Hash] covers: a JSON array of
// a version tag and every field in a fixed order. It is stable across storage round trips:
// the time is UTC truncated to microseconds with six fixed digits; a parseable IP is in
// canonical form; Details is encoded with sorted keys and canonical numbers (1, 1.0 and 1e0
// encode alike, whether decoded as float64, int or json.Number), so PostgreSQL JSONB's key
// reordering and whitespace do not change it; nil and empty Details encode alike. Any change
// to a field's value changes it. Strings are kept byte for byte (Redact has already made them
// valid UTF-8). Details values that cannot be encoded as JSON become the string
// "[UNENCODABLE]". Canonical is safe for concurrent use.
func Canonical(e Event) []byte {
	return appendCanonical(make([]byte, 0, 256), e)
}

func appendCanonical(b []byte, e Event) []byte {
	b = append(b, `["`+canonVersion+`","`...)
	b = appendTime(b, e.Time)
	b = append(b, `",`...)
	b = strconv.AppendInt(b, e.UserID, 10)
	for _, s := range [...]string{e.Username, e.Action, e.TargetType, e.TargetID} {
		b = append(b, ',')
		b = appendString(b, s)
	}
	b = append(b, ',')
	b = strconv.AppendBool(b, e.Success)
	for _, s := range [...]string{canonIP(e.IP), e.UserAgent, e.RequestID, e.Method, e.Path, e.Error} {
		b = append(b, ',')
		b = appendString(b, s)
	}
	b = append(b, ',')
	if len(e.Details) == 0 {
		b = append(b, "{}"...)
	} else {
		b = appendValue(b, e.Details, 0)
	}
	return append(b, ']')
}

// appendTime appends t in timeLayout (UTC, microseconds), without time.Format's parsing.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.Truncate(time.Microsecond).AppendFormat(b, timeLayout)
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, min, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends the non-negative v zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:width]...)
}

// appendString appends s as a JSON string, escaping only '"', '\\' and control bytes, so
// distinct byte strings always encode distinctly.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendValue appends the canonical JSON of a Details value.
func appendValue(b []byte, v any, depth int) []byte {
	if depth > 64 {
		return appendString(b, unencodable)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendString(b, x)
	case json.Number:
		return appendNumber(b, string(x))
	case float64:
		return appendFloat(b, x)
	case float32:
		return appendFloat(b, float64(x))
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int8:
		return strconv.AppendInt(b, int64(x), 10)
	case int16:
		return strconv.AppendInt(b, int64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case uint:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x[k], depth+1)
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e, depth+1)
		}
		return append(b, ']')
	}
	// Other Go types (only seen when Redact was bypassed): canonicalise their JSON form.
	raw, err := json.Marshal(v)
	if err != nil {
		return appendString(b, unencodable)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var generic any
	if err := d.Decode(&generic); err != nil {
		return appendString(b, unencodable)
	}
	return appendValue(b, generic, depth+1)
}

// appendNumber appends a JSON number in canonical form: integers in decimal, other values
// through appendFloat.
func appendNumber(b []byte, s string) []byte {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.AppendInt(b, i, 10)
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return strconv.AppendUint(b, u, 10)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return appendString(b, s) // not a number at all
	}
	return appendFloat(b, f)
}

// appendFloat appends integral values below 2^53 as integers and others in shortest 'g' form.
func appendFloat(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// Hash returns the chain hash of e following a record whose hash is prevHash:
// lower-case hex of SHA-256(prevHash || 0x00 || Canonical(e)). It is safe for concurrent use.
func Hash(prevHash string, e Event) string {
	buf := make([]byte, 0, len(prevHash)+1+256)
	buf = append(buf, prevHash...)
	buf = append(buf, 0)
	buf = appendCanonical(buf, e)
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

// Checkpoint kinds.
const (
	// CheckpointHead records the chain head, written periodically and on shutdown so that
	// cutting rows off the end of the log is detectable.
	CheckpointHead = "head"
	// CheckpointPurge records the last row removed by a retention purge; verification starts
	// after it.
	CheckpointPurge = "purge"
)

// Checkpoint is a signed statement that the chain held the record Seq with hash Hash at Time.
// Sign it with an HMAC key kept like the JWT signing key; anyone who can rewrite the
// database but lacks the key cannot forge one.
type Checkpoint struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`          // CheckpointHead or CheckpointPurge
	MAC  string    `json:"mac,omitempty"` // lower-case hex HMAC-SHA256, set by Sign
}

// message is the canonical byte string the MAC covers.
func (c Checkpoint) message() []byte {
	b := []byte("tldw-audit-checkpoint/1\x00")
	b = append(b, c.Kind...)
	b = append(b, 0)
	b = strconv.AppendInt(b, c.Seq, 10)
	b = append(b, 0)
	b = append(b, c.Hash...)
	b = append(b, 0)
	return c.Time.UTC().Truncate(time.Microsecond).AppendFormat(b, timeLayout)
}

// Sign returns c with Time normalised to UTC microseconds and MAC set to the HMAC-SHA256
// under key of its kind, sequence number, hash and time. An empty key gives an empty MAC,
// which never validates. It is safe for concurrent use.
func (c Checkpoint) Sign(key []byte) Checkpoint {
	c.Time = c.Time.UTC().Truncate(time.Microsecond)
	c.MAC = ""
	if len(key) == 0 {
		return c
	}
	m := hmac.New(sha256.New, key)
	m.Write(c.message())
	c.MAC = hex.EncodeToString(m.Sum(nil))
	return c
}

// Valid reports whether c carries a correct MAC under key; it is false for an empty key or
// MAC. The comparison is constant-time. It is safe for concurrent use.
func (c Checkpoint) Valid(key []byte) bool {
	if len(key) == 0 || c.MAC == "" {
		return false
	}
	return hmac.Equal([]byte(c.Sign(key).MAC), []byte(c.MAC))
}

// LogValue makes a Checkpoint log as a group of its fields (slog.LogValuer).
func (c Checkpoint) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", c.Kind), slog.Int64("seq", c.Seq), slog.String("hash", c.Hash),
		slog.Time("time", c.Time), slog.String("mac", c.MAC))
}

// Kinds of Break.
const (
	BreakModified  = "modified"  // the row's stored hash does not match its content
	BreakMissing   = "missing"   // a gap in Seq: rows were deleted
	BreakReordered = "reordered" // a self-consistent row that does not link to the row before it
	BreakTruncated = "truncated" // the log ends before, or differs at, a signed checkpoint
)

// Break locates the first broken link found by [Verify].
type Break struct {
	Seq    int64  `json:"seq"`    // the first bad (or first missing) sequence number
	Kind   string `json:"kind"`   // BreakModified, BreakMissing, BreakReordered or BreakTruncated
	Detail string `json:"detail"` // a sentence for the operator
}

// Report is the result of [Verify].
type Report struct {
	OK       bool   `json:"ok"`              // the whole chain verified
	Checked  int64  `json:"checked"`         // rows verified before the break, or all of them
	From     int64  `json:"from"`            // the first sequence number expected
	Head     int64  `json:"head"`            // the last good sequence number (From-1 if none)
	HeadHash string `json:"head_hash"`       // its hash
	Break    *Break `json:"break,omitempty"` // the first broken link, nil when OK
}

// Verify recomputes the hash chain from records, which must yield the stored rows after
// start (all rows when start is nil) in ascending Seq order, and reports the first broken
// link. It streams: memory use does not grow with the
// number of rows.
//
// start is the newest purge checkpoint, or nil: verification then expects Seq start.Seq+1
// with PrevHash start.Hash; without it, Seq 1 with PrevHash Genesis. last is the newest head
// checkpoint, or nil: if the log ends before last.Seq, or the row at last.Seq has another
// hash, the break is BreakTruncated. Verify does not check the checkpoints' MACs: callers
// pass only checkpoints for which Checkpoint.Valid reported true.
//
// Classification: a row whose Hash does not match Hash(PrevHash, Event) is BreakModified; a
// gap in Seq is BreakMissing (at the first missing Seq); a duplicate or decreasing Seq, or a
// self-consistent row whose PrevHash is not the previous row's Hash, is BreakReordered (this
// is also what a row that was edited together with its own hash looks like, at the row after
// it). A broken chain is reported in Report, not as an error; the error is non-nil only when
// records yields one or ctx is done. Verify is safe for concurrent use.
func Verify(ctx context.Context, records iter.Seq2[Record, error], start, last *Checkpoint) (Report, error) {
	r := Report{From: 1, HeadHash: Genesis}
	if start != nil {
		r.From, r.Head, r.HeadHash = start.Seq+1, start.Seq, start.Hash
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	var hashBuf []byte
	for rec, err := range records {
		if err != nil {
			return r, err
		}
		if r.Checked&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return r, err
			}
		}
		expect := r.Head + 1
		switch {
		case rec.Seq > expect:
			r.Break = &Break{expect, BreakMissing, missingDetail(expect, rec.Seq-1)}
		case rec.Seq < expect:
			r.Break = &Break{rec.Seq, BreakReordered,
				fmt.Sprintf("seq %d appears after seq %d: duplicate or out-of-order row", rec.Seq, r.Head)}
		default:
			hashBuf = append(hashBuf[:0], rec.PrevHash...)
			hashBuf = append(hashBuf, 0)
			hashBuf = appendCanonical(hashBuf, rec.Event)
			sum := sha256.Sum256(hashBuf)
			switch {
			case hex.EncodeToString(sum[:]) != rec.Hash:
				r.Break = &Break{rec.Seq, BreakModified,
					fmt.Sprintf("row %d does not match its stored hash: its content was modified", rec.Seq)}
			case rec.PrevHash != r.HeadHash:
				r.Break = &Break{rec.Seq, BreakReordered, fmt.Sprintf(
					"row %d does not link to %s: rows were reordered, replaced or inserted, or the previous row was rewritten",
					rec.Seq, linkName(r.Head, start))}
			case last != nil && rec.Seq == last.Seq && rec.Hash != last.Hash:
				r.Break = &Break{rec.Seq, BreakTruncated, fmt.Sprintf(
					"row %d differs from the signed checkpoint of %s: the log was cut back and rewritten",
					rec.Seq, last.Time.UTC().Format(time.RFC3339))}
			}
		}
		if r.Break != nil {
			return r, nil
		}
		r.Checked++
		r.Head, r.HeadHash = rec.Seq, rec.Hash
	}
	if last != nil && r.Head < last.Seq {
		r.Break = &Break{r.Head + 1, BreakTruncated, fmt.Sprintf(
			"the log ends at seq %d but a signed checkpoint of %s records seq %d: rows were cut off the end",
			r.Head, last.Time.UTC().Format(time.RFC3339), last.Seq)}
		return r, nil
	}
	r.OK = true
	return r, nil
}

func missingDetail(from, to int64) string {
	if from == to {
		return fmt.Sprintf("row %d is missing: it was deleted", from)
	}
	return fmt.Sprintf("rows %d to %d are missing: they were deleted", from, to)
}

func linkName(prevSeq int64, start *Checkpoint) string {
	switch {
	case start != nil && prevSeq == start.Seq:
		return fmt.Sprintf("the purge checkpoint (seq %d)", start.Seq)
	case prevSeq == 0:
		return "the genesis hash"
	}
	return fmt.Sprintf("row %d", prevSeq)
}
