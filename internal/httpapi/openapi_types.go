package httpapi

// Types that exist only to describe a body in the OpenAPI document: the handlers read or
// write these bodies as streams, part by part, so no value of them is ever built.

// mediaAddForm is the multipart form of POST /api/v1/media/add: tldw_server's AddMediaForm.
// List fields are repeated parts, in any order (fields after the files apply to them too).
// The server applies media_type, title, author, keywords, overwrite_existing, urls, the
// files, the chunking, OCR and transcription options and async; it accepts the others and
// lists them in each result's warnings as not applied.
type mediaAddForm struct {
	MediaType      string   `json:"media_type" oapi:"required,enum=video|audio|document|pdf|ebook|email|code"`
	Files          []string `json:"files,omitempty" oapi:"binary" doc:"Files to store (repeat the part for several)"`
	File           []string `json:"file,omitempty" oapi:"binary" doc:"Another name for files; one upload sent as both is stored once"`
	URLs           []string `json:"urls,omitempty" doc:"URLs to fetch and ingest (http and https; private and loopback addresses only when MEDIA_URL_ALLOWLIST allows them)"`
	Title          string   `json:"title,omitempty" oapi:"maxLength=500"`
	Author         string   `json:"author,omitempty" oapi:"maxLength=255"`
	Keywords       string   `json:"keywords,omitempty" oapi:"maxLength=1000" doc:"Comma-separated keywords"`
	KeywordsStr    string   `json:"keywords_str,omitempty" oapi:"maxLength=1000" doc:"Alias of keywords"`
	Overwrite      bool     `json:"overwrite_existing,omitempty" doc:"Replace the metadata of an item with the same content"`
	KeepOriginal   bool     `json:"keep_original_file,omitempty"`
	PerformAnalyse bool     `json:"perform_analysis,omitempty"`
	CustomPrompt   string   `json:"custom_prompt,omitempty"`
	SystemPrompt   string   `json:"system_prompt,omitempty"`
	APIName        string   `json:"api_name,omitempty"`
	APIProvider    string   `json:"api_provider,omitempty"`
	ModelName      string   `json:"model_name,omitempty"`
	Rolling        bool     `json:"perform_rolling_summarization,omitempty"`
	Recursive      bool     `json:"summarize_recursively,omitempty"`
	Confabulation  bool     `json:"perform_confabulation_check_of_analysis,omitempty"`
	UseCookies     bool     `json:"use_cookies,omitempty"`
	Cookies        string   `json:"cookies,omitempty"`
	StartTime      string   `json:"start_time,omitempty" doc:"Transcribe from this time (HH:MM:SS, MM:SS or seconds)"`
	EndTime        string   `json:"end_time,omitempty" doc:"Transcribe up to this time (HH:MM:SS, MM:SS or seconds)"`
	Chunking       bool     `json:"perform_chunking,omitempty"`
	ChunkMethod    string   `json:"chunk_method,omitempty" oapi:"enum=semantic|tokens|paragraphs|sentences|words|ebook_chapters|json|propositions"`
	ChunkSize      int      `json:"chunk_size,omitempty" oapi:"min=1"`
	ChunkOverlap   int      `json:"chunk_overlap,omitempty" oapi:"min=0"`
	ChunkLanguage  string   `json:"chunk_language,omitempty"`
	Adaptive       bool     `json:"use_adaptive_chunking,omitempty"`
	MultiLevel     bool     `json:"use_multi_level_chunking,omitempty"`
	ChapterPattern string   `json:"custom_chapter_pattern,omitempty"`
	Contextual     bool     `json:"enable_contextual_chunking,omitempty"`
	Template       string   `json:"chunking_template_name,omitempty"`
	Hierarchical   bool     `json:"hierarchical_chunking,omitempty"`
	Transcription  string   `json:"transcription_model,omitempty" doc:"The transcriber's model (default: the server's)"`
	TranscribeLang string   `json:"transcription_language,omitempty" doc:"Language code of the speech, or auto to detect"`
	Diarize        bool     `json:"diarize,omitempty" doc:"Label speakers; answered with a warning when the transcriber cannot"`
	Timestamps     bool     `json:"timestamp_option,omitempty" doc:"Keep the transcript's timed segments (default true)"`
	VAD            bool     `json:"vad_use,omitempty" doc:"Drop the segments the transcriber reports inside long silences (2 s or more)"`
	Hotwords       string   `json:"hotwords,omitempty"`
	PDFEngine      string   `json:"pdf_parsing_engine,omitempty" oapi:"enum=pymupdf4llm|pymupdf|docling"`
	EnableOCR      bool     `json:"enable_ocr,omitempty"`
	OCRBackend     string   `json:"ocr_backend,omitempty"`
	OCRLang        string   `json:"ocr_lang,omitempty"`
	OCRDPI         int      `json:"ocr_dpi,omitempty"`
	OCRMode        string   `json:"ocr_mode,omitempty" oapi:"enum=fallback|always|off"`
	Async          bool     `json:"async,omitempty" doc:"Answer 202 at once with each item's job_id instead of waiting for processing"`
	Extraction     string   `json:"extraction_method,omitempty" oapi:"enum=filtered|markdown|basic"`
	Embeddings     bool     `json:"generate_embeddings,omitempty"`
	EmbeddingModel string   `json:"embedding_model,omitempty"`
	EmbeddingProv  string   `json:"embedding_provider,omitempty"`
}

// mediaAddResponse is the body of POST /api/v1/media/add (written by writeMediaResults).
type mediaAddResponse struct {
	Results        []mediaResult `json:"results"`
	ProcessedCount int           `json:"processed_count"`
	ErrorsCount    int           `json:"errors_count"`
	Errors         []string      `json:"errors"`
}

// Audio (audio_routes.go).

// transcriptionForm is the multipart form of POST /api/v1/audio/transcriptions: OpenAI's
// transcription request. temperature and timestamp_granularities are accepted and not
// applied (segments always come with their times; word timings are not available).
type transcriptionForm struct {
	File           string   `json:"file" oapi:"required,binary" doc:"The audio or video file"`
	Model          string   `json:"model,omitempty" doc:"Passed to the transcriber; empty = its default"`
	Language       string   `json:"language,omitempty" doc:"ISO-639-1 code; empty = detect"`
	Prompt         string   `json:"prompt,omitempty"`
	ResponseFormat string   `json:"response_format,omitempty" oapi:"enum=json|text|srt|vtt|verbose_json" doc:"Default json"`
	Temperature    float64  `json:"temperature,omitempty"`
	Granularities  []string `json:"timestamp_granularities[],omitempty" doc:"segment or word (accepted, not applied)"`
}
