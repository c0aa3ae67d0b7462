package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strconv"
	"time"
)

// ExportFormats are the formats WriteExport writes: "csv" (a header row, formula-safe
// cells), "jsonl" (one JSON object per line) and "json" (one array).
var ExportFormats = []string{"csv", "jsonl", "json"}

// ExportRow is how one entry looks in an export and in the query API.
type ExportRow struct {
	ID           int64          `json:"id"`
	Seq          int64          `json:"seq"`
	CreatedAt    string         `json:"created_at"`
	UserID       *int64         `json:"user_id"`
	Username     string         `json:"username"`
	Action       string         `json:"action"`
	TargetType   string         `json:"target_type"`
	TargetID     string         `json:"target_id"`
	Success      bool           `json:"success"`
	IPAddress    string         `json:"ip_address"`
	UserAgent    string         `json:"user_agent"`
	RequestID    string         `json:"request_id"`
	Method       string         `json:"request_method"`
	Path         string         `json:"request_path"`
	ErrorMessage string         `json:"error_message"`
	Details      map[string]any `json:"details"`
	PrevHash     string         `json:"prev_hash"`
	Hash         string         `json:"hash"`
}

// Row renders e for the API and exports.
func Row(e Entry) ExportRow {
	r := ExportRow{
		ID: e.ID, Seq: e.Seq, CreatedAt: e.Event.Time.UTC().Format(time.RFC3339Nano),
		Username: e.Event.Username, Action: e.Event.Action, TargetType: e.Event.TargetType,
		TargetID: e.Event.TargetID, Success: e.Event.Success, IPAddress: e.Event.IP,
		UserAgent: e.Event.UserAgent, RequestID: e.Event.RequestID, Method: e.Event.Method,
		Path: e.Event.Path, ErrorMessage: e.Event.Error, Details: e.Event.Details,
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if e.Event.UserID != 0 {
		id := e.Event.UserID
		r.UserID = &id
	}
	return r
}

var csvHeader = []string{"id", "seq", "created_at", "user_id", "username", "action", "target_type",
	"target_id", "success", "ip_address", "user_agent", "request_id", "request_method",
	"request_path", "error_message", "details", "prev_hash", "hash"}

// WriteExport streams entries to w in format, flushing every 256 rows so memory stays
// constant however many rows there are; flush (may be nil) is called after each flush of the
// buffer, for HTTP responses. It returns the first error from entries or w, or ErrInvalid for
// an unknown format.
func WriteExport(w io.Writer, format string, entries iter.Seq2[Entry, error], flush func()) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	tick := func() error {
		n++
		if n%256 != 0 {
			return nil
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if flush != nil {
			flush()
		}
		return nil
	}
	var err error
	switch format {
	case "csv":
		err = writeCSV(bw, entries, tick)
	case "jsonl", "json":
		err = writeJSON(bw, format == "json", entries, tick)
	default:
		return fmt.Errorf("%w: export format %q (want csv, jsonl or json)", ErrInvalid, format)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func writeCSV(w io.Writer, entries iter.Seq2[Entry, error], tick func() error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for e, err := range entries {
		if err != nil {
			return err
		}
		r := Row(e)
		details := ""
		if len(r.Details) > 0 {
			b, err := json.Marshal(r.Details)
			if err != nil {
				return err
			}
			details = string(b)
		}
		uid := ""
		if r.UserID != nil {
			uid = strconv.FormatInt(*r.UserID, 10)
		}
		rec := []string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.Seq, 10), r.CreatedAt, uid,
			r.Username, r.Action, r.TargetType, r.TargetID, strconv.FormatBool(r.Success), r.IPAddress,
			r.UserAgent, r.RequestID, r.Method, r.Path, r.ErrorMessage, details, r.PrevHash, r.Hash}
		for i := range rec {
			rec[i] = CSVSafe(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
		cw.Flush()
		if err := tick(); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSON(w io.Writer, array bool, entries iter.Seq2[Entry, error], tick func() error) error {
	enc := json.NewEncoder(w)
	sep := "["
	for e, err := range entries {
		if err != nil {
			return err
		}
		if array {
			if _, err := io.WriteString(w, sep); err != nil {
				return err
			}
			sep = ","
		}
		if err := enc.Encode(Row(e)); err != nil {
			return err
		}
		if err := tick(); err != nil {
			return err
		}
	}
	if array {
		if sep == "[" {
			_, err := io.WriteString(w, "[]\n")
			return err
		}
		_, err := io.WriteString(w, "]\n")
		return err
	}
	return nil
}
