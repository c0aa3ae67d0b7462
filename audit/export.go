package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strconv"
	"time"
)

// View is one audit entry as the API and the exports render it: tldw_server's fields plus
// the chain position. UserID is nil for events without a known user.
type View struct {
	ID         int64          `json:"id"`
	Seq        int64          `json:"seq"`
	CreatedAt  string         `json:"created_at"`
	UserID     *int64         `json:"user_id"`
	Username   string         `json:"username"`
	Action     string         `json:"action"`
	TargetType string         `json:"target_type"`
	TargetID   string         `json:"target_id"`
	Resource   string         `json:"resource"`
	Success    bool           `json:"success"`
	IPAddress  string         `json:"ip_address"`
	UserAgent  string         `json:"user_agent"`
	RequestID  string         `json:"request_id"`
	Method     string         `json:"method"`
	Path       string         `json:"path"`
	Error      string         `json:"error"`
	Details    map[string]any `json:"details"`
	PrevHash   string         `json:"prev_hash"`
	Hash       string         `json:"hash"`
}

// ViewOf renders e.
func ViewOf(e Entry) View {
	ev := e.Event
	v := View{
		ID: e.ID, Seq: e.Seq, CreatedAt: ev.Time.UTC().Format(time.RFC3339Nano), Username: ev.Username,
		Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID, Resource: ev.TargetType,
		Success: ev.Success, IPAddress: ev.IP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
		Method: ev.Method, Path: ev.Path, Error: ev.Error, Details: ev.Details,
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if ev.TargetID != "" {
		v.Resource = ev.TargetType + ":" + ev.TargetID
	}
	if ev.UserID != 0 {
		id := ev.UserID
		v.UserID = &id
	}
	if v.Details == nil {
		v.Details = map[string]any{}
	}
	return v
}

// CSVHeader names the CSV export's columns, in order.
var CSVHeader = []string{"id", "seq", "created_at", "user_id", "username", "action", "target_type",
	"target_id", "success", "ip_address", "user_agent", "request_id", "method", "path", "error",
	"details", "prev_hash", "hash"}

// CSVRecord renders e as CSV cells in CSVHeader's order, each neutralised against formula
// injection (CSVSafe).
func CSVRecord(e Entry) []string {
	v := ViewOf(e)
	details := "{}"
	if len(v.Details) > 0 {
		if b, err := json.Marshal(v.Details); err == nil {
			details = string(b)
		}
	}
	userID := ""
	if v.UserID != nil {
		userID = strconv.FormatInt(*v.UserID, 10)
	}
	cells := []string{strconv.FormatInt(v.ID, 10), strconv.FormatInt(v.Seq, 10), v.CreatedAt,
		userID, v.Username, v.Action, v.TargetType, v.TargetID, strconv.FormatBool(v.Success),
		v.IPAddress, v.UserAgent, v.RequestID, v.Method, v.Path, v.Error, details, v.PrevHash, v.Hash}
	for i, c := range cells {
		cells[i] = CSVSafe(c)
	}
	return cells
}

// Encoder writes an export in one of the formats "csv" (a header row, formula-safe cells),
// "jsonl" (one JSON object per line) or "json" (one array). Call Row per entry, then Close.
// Nothing is written before the first Row or Close, so a caller can still report an error
// instead. Not safe for concurrent use.
type Encoder struct {
	w       io.Writer
	format  string
	started bool
	rows    int
	csv     *csv.Writer
}

// NewEncoder returns an Encoder, or an ErrInvalid-wrapped error for an unknown format.
func NewEncoder(w io.Writer, format string) (*Encoder, error) {
	switch format {
	case "csv", "jsonl", "json":
		return &Encoder{w: w, format: format}, nil
	}
	return nil, fmt.Errorf("%w: export format %q (want csv, jsonl or json)", ErrInvalid, format)
}

// Rows reports how many entries were written.
func (x *Encoder) Rows() int { return x.rows }

func (x *Encoder) start() error {
	x.started = true
	switch x.format {
	case "csv":
		x.csv = csv.NewWriter(x.w)
		return x.csv.Write(CSVHeader)
	case "json":
		_, err := io.WriteString(x.w, "[")
		return err
	}
	return nil
}

// Row writes one entry.
func (x *Encoder) Row(e Entry) error {
	if !x.started {
		if err := x.start(); err != nil {
			return err
		}
	}
	var err error
	if x.format == "csv" {
		if err = x.csv.Write(CSVRecord(e)); err == nil {
			x.csv.Flush()
			err = x.csv.Error()
		}
	} else {
		b, merr := json.Marshal(ViewOf(e))
		if merr != nil {
			return merr
		}
		switch {
		case x.format == "jsonl":
			b = append(b, '\n')
		case x.rows == 0:
			b = append([]byte("\n"), b...)
		default:
			b = append([]byte(",\n"), b...)
		}
		_, err = x.w.Write(b)
	}
	if err == nil {
		x.rows++
	}
	return err
}

// Close writes what an empty export needs (the CSV header) and the JSON array's end.
func (x *Encoder) Close() error {
	if !x.started {
		if err := x.start(); err != nil {
			return err
		}
	}
	switch x.format {
	case "csv":
		x.csv.Flush()
		return x.csv.Error()
	case "json":
		end := "]\n"
		if x.rows > 0 {
			end = "\n]\n"
		}
		_, err := io.WriteString(x.w, end)
		return err
	}
	return nil
}

// WriteExport streams entries to w in format, in constant memory (`tldwd audit export`).
func WriteExport(w io.Writer, format string, entries iter.Seq2[Entry, error]) error {
	enc, err := NewEncoder(w, format)
	if err != nil {
		return err
	}
	for e, err := range entries {
		if err != nil {
			return err
		}
		if err := enc.Row(e); err != nil {
			return err
		}
	}
	return enc.Close()
}
