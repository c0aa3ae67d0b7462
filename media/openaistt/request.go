package openaistt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// form is a request's multipart body around the file: the fields and the file part's
// header (prefix), and the closing boundary (suffix).
type form struct {
	prefix, suffix []byte
	contentType    string
}

// FileName is the name the audio is uploaded as.
const FileName = "audio.wav"

func newForm(model, lang, prompt string) form {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("model", model)
	if lang != "" {
		w.WriteField("language", lang)
	}
	if prompt != "" {
		w.WriteField("prompt", prompt)
	}
	w.WriteField("response_format", "verbose_json")
	w.WriteField("timestamp_granularities[]", "segment")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+FileName+`"`)
	h.Set("Content-Type", "audio/wav")
	w.CreatePart(h)
	f := form{prefix: bytes.Clone(b.Bytes()), contentType: w.FormDataContentType()}
	b.Reset()
	w.Close()
	f.suffix = bytes.Clone(b.Bytes())
	return f
}

// body returns the multipart body with p's audio, and its length.
func (f form) body(p piece) (io.ReadCloser, int64, error) {
	file, size, err := p.open()
	if err != nil {
		return nil, 0, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(f.prefix), file, bytes.NewReader(f.suffix)), file}, int64(len(f.prefix)) + size + int64(len(f.suffix)), nil
}

// verbose is the verbose_json response (the fields used; OpenAI also sends task, duration,
// words, and per segment id, seek, tokens, temperature, avg_logprob, compression_ratio,
// no_speech_prob).
type verbose struct {
	Language string    `json:"language"`
	Duration float64   `json:"duration"`
	Text     string    `json:"text"`
	Segments []segment `json:"segments"`
}

type segment struct {
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Text    string  `json:"text"`
	Speaker string  `json:"speaker"` // a few servers diarize
}

// send makes one request for p, retrying what may pass (see attempt) up to MaxAttempts
// times with backoff.
func (c *Client) send(ctx context.Context, f form, p piece) (*verbose, error) {
	for n := 1; ; n++ {
		r, wait, err := c.attempt(ctx, f, p)
		if err == nil || wait < 0 {
			return r, err
		}
		if n >= c.cfg.MaxAttempts {
			return nil, fmt.Errorf("%w (gave up after %d attempts)", err, n)
		}
		if wait == 0 {
			wait = backoff(n)
		} else if wait > maxRetryWait {
			return nil, fmt.Errorf("%w (it asks to retry after %v)", err, wait.Round(time.Second))
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// noRetry is attempt's wait for an error not to retry.
const noRetry = -1

// attempt makes one request. On failure wait says what to do: noRetry, 0 to retry after a
// backoff, or a positive time the server asked to wait (Retry-After).
func (c *Client) attempt(ctx context.Context, f form, p piece) (_ *verbose, wait time.Duration, _ error) {
	body, size, err := f.body(p)
	if err != nil {
		return nil, noRetry, err
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, body)
	if err != nil {
		body.Close()
		return nil, noRetry, fmt.Errorf("openaistt: %w", err)
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { // a 307 or 308 redirect sends it again
		body, _, err := f.body(p)
		return body, err
	}
	req.Header.Set("Content-Type", f.contentType)
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, noRetry, context.Cause(ctx)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, 0, fmt.Errorf("openaistt: %s did not answer within %v", c.cfg.Provider, c.cfg.Timeout)
		}
		return nil, 0, fmt.Errorf("openaistt: %s unreachable: %s", c.cfg.Provider, c.redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, noRetry, context.Cause(ctx)
		}
		return nil, 0, fmt.Errorf("openaistt: %s: reading the response: %s", c.cfg.Provider, c.redact(err.Error()))
	}
	if len(data) > maxResponse {
		return nil, noRetry, fmt.Errorf("openaistt: %s: response over %d bytes", c.cfg.Provider, maxResponse)
	}
	if resp.StatusCode/100 == 2 {
		var v verbose
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, noRetry, fmt.Errorf("openaistt: %s: HTTP %d with a body that is not verbose_json: %s",
				c.cfg.Provider, resp.StatusCode, c.message(data))
		}
		return &v, 0, nil
	}
	wait, err = c.classify(resp, data)
	return nil, wait, err
}

// classify turns an unsuccessful response into attempt's wait and error.
func (c *Client) classify(resp *http.Response, data []byte) (time.Duration, error) {
	code, prov := resp.StatusCode, c.cfg.Provider
	msg, errCode := c.message(data), errorCode(data)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		// The provider's message may quote the key; it is left out.
		return noRetry, media.Detailf(media.ErrUnsupported,
			"STT provider rejected the API key (%s answered HTTP %d); check STT_API_KEY", prov, code)
	case code == http.StatusRequestEntityTooLarge:
		return noRetry, media.Detailf(media.ErrTooLarge,
			"%s refused the audio as too large (HTTP 413): %s; lower the STT upload limit", prov, msg)
	case code == http.StatusTooManyRequests && errCode == "insufficient_quota":
		return noRetry, fmt.Errorf("openaistt: %s: out of quota (HTTP 429): %s", prov, msg)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		err := fmt.Errorf("openaistt: %s answered HTTP %d: %s", prov, code, msg)
		return retryAfter(resp.Header, time.Now()), err
	case code == http.StatusNotFound:
		return noRetry, media.Detailf(media.ErrUnsupported,
			"%s has no such transcription endpoint or model (HTTP 404): %s", prov, msg)
	case code >= 400:
		return noRetry, media.Detailf(media.ErrInvalid, "%s rejected the request (HTTP %d): %s", prov, code, msg)
	}
	return noRetry, fmt.Errorf("openaistt: %s answered HTTP %d: %s", prov, code, msg)
}

// retryAfter reads Retry-After (seconds or an HTTP date) or OpenAI's retry-after-ms: the
// wait asked for, at least 1 ns when one was asked (0 says "none": use the backoff).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms >= 0 {
		return max(1, time.Duration(ms*float64(time.Millisecond)))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return max(1, time.Duration(s)*time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(1, t.Sub(now))
	}
	return 0
}

// backoff is the wait before try n+1: baseBackoff doubled per try up to maxBackoff, half of
// it fixed and half random.
func backoff(n int) time.Duration {
	d := min(maxBackoff, baseBackoff<<min(n-1, 16))
	return d/2 + rand.N(d/2+1)
}

// apiError is the error body of OpenAI ({"error": {...}}) and of FastAPI servers
// ({"detail": ...}).
type apiError struct {
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   any    `json:"param"`
		Code    any    `json:"code"`
	} `json:"error"`
	Detail  any    `json:"detail"`
	Message string `json:"message"`
}

// message returns a provider's error text from its body, trimmed, the API key redacted.
func (c *Client) message(data []byte) string {
	var e apiError
	msg := ""
	if json.Unmarshal(data, &e) == nil {
		switch {
		case e.Error != nil && e.Error.Message != "":
			msg = e.Error.Message
		case e.Detail != nil:
			if s, ok := e.Detail.(string); ok {
				msg = s
			} else if b, err := json.Marshal(e.Detail); err == nil {
				msg = string(b)
			}
		default:
			msg = e.Message
		}
	}
	if msg == "" {
		msg = string(data)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 300 {
		msg = strings.ToValidUTF8(msg[:300], "") + "..."
	}
	if msg == "" {
		msg = "(no message)"
	}
	return c.redact(msg)
}

// errorCode returns OpenAI's error.code when it is a string.
func errorCode(data []byte) string {
	var e apiError
	if json.Unmarshal(data, &e) != nil || e.Error == nil {
		return ""
	}
	s, _ := e.Error.Code.(string)
	return s
}

// redact removes the API key from s.
func (c *Client) redact(s string) string {
	if c.cfg.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.APIKey, "[REDACTED]")
}
