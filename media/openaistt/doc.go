// Package openaistt is a media.Transcriber on an OpenAI-compatible speech-to-text server:
// POST {base}/v1/audio/transcriptions, as OpenAI, Groq, faster-whisper-server (speaches),
// whisper.cpp's server and LocalAI answer it. It asks for verbose_json with segment
// timestamps and returns the segments, the language (as an ISO 639-1 code) and the model.
//
// Audio over the provider's upload limit (MaxUploadBytes, 25 MB at OpenAI) is split into
// pieces under it, each cut at the quietest 50 ms within the last fifth before the limit,
// so a cut falls in a pause rather than a word. Pieces are sent with bounded concurrency
// and their segments re-timed into one transcript.
//
// Servers differ a little, and the client takes them as they are: whisper.cpp's server
// answers at this path when started with --inference-path /v1/audio/transcriptions;
// LocalAI sends segment times in nanoseconds (Go's time.Duration), recognised by their size;
// a server that ignores verbose_json and answers {"text": ...} gives one segment per piece.
// OpenAI names the language ("english"): Language maps names to ISO 639-1 codes.
//
// Provider errors are classified: 408, 429, 5xx, timeouts and broken connections are
// retried with exponential backoff and jitter (honouring Retry-After), and after the last
// attempt returned as transient errors; a rejected request is permanent (media.ErrInvalid,
// media.ErrTooLarge for 413), and so is a rejected API key (media.ErrUnsupported, "STT
// provider rejected the API key"). The API key is sent only in the Authorization header and
// never appears in an error.
package openaistt
