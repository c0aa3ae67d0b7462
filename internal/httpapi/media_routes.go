package httpapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
)

// Limits of the multipart form of POST /api/v1/media/add. File parts stream into storage
// (never buffered whole); everything else is bounded here. Part headers are bounded by
// mime/multipart (10 MiB, 10000 headers) and, like everything, by the request cap.
const (
	mediaMaxParts       = 100      // parts per request
	mediaMaxFieldBytes  = 64 << 10 // one non-file field
	mediaMaxFieldsBytes = 1 << 20  // all non-file fields; also the allowance above MAX_UPLOAD_SIZE_MB for the whole request
	mediaDefaultPerPage = 10
	mediaMaxIgnored     = 20 // ignored field names listed in a warning
	mediaMaxURLBytes    = 2048
	// DefaultMediaAddMaxItems is Options.MediaAddMaxItems's default.
	DefaultMediaAddMaxItems = 100
)

// mediaDownloadCSP is the Content-Security-Policy of file downloads: nothing loads, nothing
// runs, even if a browser renders the file.
const mediaDownloadCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

// routes are the media item routes (stored uploads, the trash, file downloads) and the
// storage quota routes (quota_routes.go).
func (s *mediaAPI) routes() []route {
	list := []param{
		{Name: "page", Description: "Page number, from 1 (default 1)", Type: "integer", Range: []int64{1, 1 << 30}},
		{Name: "results_per_page", Description: "Items per page, 1-100 (default 10)", Type: "integer", Range: []int64{1, media.MaxPerPage}},
	}
	unavailable := "No media storage configured"
	rs := []route{
		{Method: http.MethodPost, Path: "/api/v1/media/add", Tag: "media", Perm: auth.PermMediaWrite,
			ID: "addMedia", Request: mediaAddForm{}, Response: mediaAddResponse{},
			Summary: "Upload and process media files (multipart form: media_type, files, title, author, keywords, " +
				"overwrite_existing, chunk_method, chunk_size, chunk_overlap, perform_chunking, ocr_mode, ocr_lang, async; " +
				"fields may follow the files). Waits for processing unless async=true or Prefer: respond-async",
			Body: "multipart/form-data",
			Responses: map[int]string{200: "Every input stored and processed", 202: "Stored; processing queued (async)",
				207: "Some inputs failed", 400: "No valid input",
				401: "Not authenticated", 403: "Not allowed", 413: "Upload too large or storage quota exceeded",
				415: "Not a multipart form", 422: "Missing or invalid media_type", 503: unavailable},
			Handler: s.handleMediaAdd},
		s.processRoute("process-documents", "processDocuments", media.TypeDocument),
		s.processRoute("process-pdfs", "processPdfs", media.TypePDF),
		s.processRoute("process-ebooks", "processEbooks", media.TypeEbook),
		s.processRoute("process-emails", "processEmails", media.TypeEmail),
		s.processRoute("process-code", "processCode", media.TypeCode),
		s.processRoute("process-videos", "processVideos", media.TypeVideo),
		s.processRoute("process-audios", "processAudios", media.TypeAudio),
		{Method: http.MethodGet, Path: "/api/v1/media", Tag: "media", Perm: auth.PermMediaRead, TrailingSlash: true,
			ID: "listMedia", Response: mediaList{}, Headers: map[int][]string{200: {"ETag"}, 304: {"ETag"}},
			Summary: "List your media items, newest first", Query: list,
			Responses: map[int]string{200: "Items and pagination", 304: "Not modified (If-None-Match)",
				400: "Invalid page parameters", 401: "Not authenticated", 403: "Not allowed", 503: unavailable},
			Handler: s.handleMediaList(false)},
		{Method: http.MethodGet, Path: "/api/v1/media/trash", Tag: "media", Perm: auth.PermMediaRead,
			ID: "listTrash", Response: mediaList{}, Headers: map[int][]string{200: {"ETag"}, 304: {"ETag"}},
			Summary: "List your trashed media items", Query: list,
			Responses: map[int]string{200: "Items and pagination", 304: "Not modified (If-None-Match)",
				400: "Invalid page parameters", 401: "Not authenticated", 403: "Not allowed", 503: unavailable},
			Handler: s.handleMediaList(true)},
		{Method: http.MethodPost, Path: "/api/v1/media/trash/empty", Tag: "media", Perm: auth.PermMediaWrite,
			ID: "emptyTrash", Response: trashEmptied{},
			Summary: "Permanently delete every trashed item (frees quota)",
			Responses: map[int]string{200: "How many items were deleted", 401: "Not authenticated", 403: "Not allowed",
				503: unavailable},
			Handler: s.handleMediaEmptyTrash},
		{Method: http.MethodGet, Path: "/api/v1/media/{id:[0-9]+}", Tag: "media", Perm: auth.PermMediaRead,
			ID: "getMediaItem", Response: mediaJSON{},
			Summary: "Get a media item: tldw's MediaDetailResponse with its extracted text (include_content=false leaves the text out)",
			Query:   []param{{Name: "include_content", Description: "Include content.text (default true)", Type: "boolean"}},
			Responses: map[int]string{200: "The item", 401: "Not authenticated", 403: "Not allowed",
				404: "No such item of yours", 503: unavailable},
			Handler: s.handleMediaGet},
		{Method: http.MethodGet, Path: "/api/v1/media/{id:[0-9]+}/file", Tag: "media", Perm: auth.PermMediaRead,
			ID: "downloadMediaFile", Headers: map[int][]string{200: {"ETag", "Content-Disposition"},
				206: {"ETag", "Content-Range", "Content-Disposition"}, 304: {"ETag"}, 416: {"Content-Range"}},
			Summary:  "Download the item's original file (attachment; Range and ETag supported)",
			Produces: "*/*",
			Responses: map[int]string{200: "The file", 206: "Part of the file", 304: "Not modified",
				401: "Not authenticated", 403: "Not allowed", 404: "No such item of yours",
				416: "Range not satisfiable", 503: unavailable},
			Handler: s.handleMediaFile},
		{Method: http.MethodGet, Path: "/api/v1/media/{id:[0-9]+}/thumbnail", Tag: "media", Perm: auth.PermMediaRead,
			ID: "getMediaThumbnail", Produces: "image/jpeg",
			Summary: "Get a video's thumbnail: a JPEG frame taken at 10 % of its duration while it was processed",
			Responses: map[int]string{200: "The thumbnail", 401: "Not authenticated", 403: "Not allowed",
				404: "No such item of yours, or it has no thumbnail", 503: unavailable},
			Handler: s.handleMediaThumbnail},
		{Method: http.MethodDelete, Path: "/api/v1/media/{id:[0-9]+}", Tag: "media", Perm: auth.PermMediaWrite,
			ID:      "trashMediaItem",
			Summary: "Move a media item to the trash (it still counts against the quota)",
			Responses: map[int]string{204: "Trashed", 401: "Not authenticated", 403: "Not allowed",
				404: "No such item of yours", 503: unavailable},
			Handler: s.handleMediaTrash},
		{Method: http.MethodPost, Path: "/api/v1/media/{id:[0-9]+}/restore", Tag: "media", Perm: auth.PermMediaWrite,
			ID: "restoreMediaItem", Response: mediaRestored{},
			Summary: "Restore a media item from the trash",
			Responses: map[int]string{200: "Restored", 401: "Not authenticated", 403: "Not allowed",
				404: "No such item of yours", 503: unavailable},
			Handler: s.handleMediaRestore},
		{Method: http.MethodDelete, Path: "/api/v1/media/{id:[0-9]+}/permanent", Tag: "media", Perm: auth.PermMediaWrite,
			ID:      "deleteMediaPermanently",
			Summary: "Delete a media item and its file for good (frees quota)",
			Responses: map[int]string{204: "Deleted", 401: "Not authenticated", 403: "Not allowed",
				404: "No such item of yours", 503: unavailable},
			Handler: s.handleMediaDeletePermanent},
	}
	return append(rs, s.quotaRoutes()...)
}

// processRoute is POST /api/v1/media/<name>: ephemeral processing of one media type.
func (s *mediaAPI) processRoute(name, id, mediaType string) route {
	verb := "Extract and chunk "
	if mediaType == media.TypeAudio || mediaType == media.TypeVideo {
		verb = "Transcribe (counting against the daily transcription minutes) and chunk "
	}
	return route{Method: http.MethodPost, Path: "/api/v1/media/" + name, Tag: "media", Perm: auth.PermMediaWrite,
		ID: id, Request: mediaAddForm{}, Response: mediaAddResponse{}, Body: "multipart/form-data",
		Summary: verb + mediaType + " files without storing them (the /media/add form; media_type is " +
			mediaType + "); temporary files are removed",
		Responses: map[int]string{200: "Every input processed", 207: "Some inputs failed", 400: "No valid input",
			401: "Not authenticated", 403: "Not allowed", 413: "Upload too large", 415: "Not a multipart form",
			422: "Invalid options", 503: "Media processing is not enabled on this server"},
		Handler: s.handleMediaProcess(mediaType)}
}

// mediaService returns Options.Media or a 503.
func (s *mediaAPI) mediaService() (*media.Service, error) {
	if s.o.Media == nil {
		return nil, Errorf(http.StatusServiceUnavailable, "service_unavailable", "media storage is not configured")
	}
	return s.o.Media, nil
}

// mediaActor describes the request's principal to package media.
func (s *mediaAPI) mediaActor(r *http.Request) media.Actor {
	p, m := principalFrom(r.Context()), s.meta(r)
	a := media.Actor{IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID, Method: m.Method, Path: m.Path}
	if p != nil {
		a.UserID, a.Username, a.ReadAny = p.UserID, p.Username, p.Can(auth.PermMediaReadAny)
	}
	return a
}

// mediaTarget is mediaService plus the {id} path variable: the item a route acts on.
func (s *mediaAPI) mediaTarget(r *http.Request) (*media.Service, int64, error) {
	svc, err := s.mediaService()
	if err != nil {
		return nil, 0, err
	}
	id, err := mediaID(r)
	return svc, id, err
}

// mediaID reads the {id} path variable; one that does not fit an int64 is a 404.
func mediaID(r *http.Request) (int64, error) {
	id, err := pathInt64(r, "id")
	if err != nil {
		return 0, &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "Media not found"}
	}
	return id, nil
}

// mediaJSON is a media item as the API shows it: tldw_server's MediaDetailResponse fields
// plus the stored facts. It never carries the storage key.
type mediaJSON struct {
	ID              int64           `json:"id"`
	MediaID         int64           `json:"media_id"`
	UUID            string          `json:"uuid"`
	UserID          int64           `json:"user_id"`
	Title           string          `json:"title"`
	Author          string          `json:"author"`
	Type            string          `json:"type"`
	MediaType       string          `json:"media_type"`
	URL             *string         `json:"url"`
	Filename        string          `json:"filename"`
	ContentType     string          `json:"content_type"`
	SizeBytes       int64           `json:"size_bytes"`
	ContentHash     string          `json:"content_hash"`
	Status          string          `json:"status"`
	Keywords        []string        `json:"keywords"`
	IsTrash         bool            `json:"is_trash"`
	TrashDate       *string         `json:"trash_date"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	Source          mediaSource     `json:"source"`
	Processing      mediaProcessing `json:"processing"`
	Content         mediaContent    `json:"content"`
	Timestamps      []string        `json:"timestamps"`
	Segments        []segmentJSON   `json:"segments" doc:"The transcript's timed segments (audio and video; empty otherwise or with timestamp_option=false)"`
	Versions        []any           `json:"versions"`
	HasOriginalFile bool            `json:"has_original_file"`
	OriginalFileURL string          `json:"original_file_url"`
}

// segmentJSON is one timed segment of a transcript.
type segmentJSON struct {
	StartSeconds float64 `json:"start_seconds"`
	EndSeconds   float64 `json:"end_seconds"`
	Text         string  `json:"text"`
	Speaker      string  `json:"speaker,omitempty"`
}

// segmentsJSON is segs as the API shows them (an empty list for none).
func segmentsJSON(segs []media.Segment) []segmentJSON {
	out := make([]segmentJSON, 0, len(segs))
	for _, sg := range segs {
		out = append(out, segmentJSON{StartSeconds: sg.Start.Seconds(), EndSeconds: sg.End.Seconds(),
			Text: strings.TrimSpace(sg.Text), Speaker: sg.Speaker})
	}
	return out
}

// mediaSource is MediaDetailResponse's source (keys in alphabetical order).
type mediaSource struct {
	Duration *float64 `json:"duration"`
	Title    string   `json:"title"`
	Type     string   `json:"type"`
	URL      *string  `json:"url"`
}

// mediaProcessing is MediaDetailResponse's processing, plus the item's processing status
// (stored, queued, processing, processed, failed, cancelled), its error and chunk count.
type mediaProcessing struct {
	Analysis               *string `json:"analysis"`
	ChunkCount             int     `json:"chunk_count"`
	ChunkingStatus         string  `json:"chunking_status" oapi:"enum=pending|processing|completed|skipped|failed"`
	Error                  string  `json:"error"`
	Model                  *string `json:"model"`
	Prompt                 *string `json:"prompt"`
	SafeMetadata           *string `json:"safe_metadata"`
	Status                 string  `json:"status"`
	TimestampOption        *bool   `json:"timestamp_option"`
	VectorProcessingStatus int     `json:"vector_processing_status"`
}

// mediaContent is MediaDetailResponse's content; Text is null with include_content=false.
type mediaContent struct {
	Metadata  map[string]any `json:"metadata"`
	Text      *string        `json:"text"`
	WordCount int            `json:"word_count"`
}

func newMediaJSON(it *media.Item) mediaJSON {
	j := mediaJSON{
		ID: it.ID, MediaID: it.ID, UUID: it.UUID, UserID: it.UserID, Title: it.Title, Author: it.Author,
		Type: it.MediaType, MediaType: it.MediaType, Filename: it.Filename, ContentType: it.ContentType,
		SizeBytes: it.Size, ContentHash: it.ContentHash, Status: string(it.Status),
		Keywords: append([]string{}, it.Keywords...), IsTrash: it.Trashed,
		CreatedAt: formatTime(it.CreatedAt), UpdatedAt: formatTime(it.UpdatedAt),
		Source:          mediaSource{Title: it.Title, Type: it.MediaType},
		Processing:      mediaProcessing{ChunkingStatus: "pending", Status: string(it.Status)},
		Content:         mediaContent{Metadata: map[string]any{}, Text: new(string)},
		Timestamps:      []string{},
		Segments:        []segmentJSON{},
		Versions:        []any{},
		HasOriginalFile: true,
		OriginalFileURL: fmt.Sprintf("/api/v1/media/%d/file", it.ID),
	}
	if it.TrashedAt != nil {
		t := formatTime(*it.TrashedAt)
		j.TrashDate = &t
	}
	return j
}

// mediaListItem is one entry of a list: tldw_server's {id, title, url, type} plus a summary.
type mediaListItem struct {
	ID          int64    `json:"id"`
	MediaID     int64    `json:"media_id"`
	Title       string   `json:"title"`
	URL         *string  `json:"url"`
	Type        string   `json:"type"`
	MediaType   string   `json:"media_type"`
	Author      string   `json:"author"`
	Filename    string   `json:"filename"`
	ContentType string   `json:"content_type"`
	SizeBytes   int64    `json:"size_bytes"`
	Status      string   `json:"status"`
	Keywords    []string `json:"keywords"`
	CreatedAt   string   `json:"created_at"`
	TrashDate   *string  `json:"trash_date,omitempty"`
}

// mediaList is a page of media items.
type mediaList struct {
	Items      []mediaListItem `json:"items"`
	Pagination mediaPagination `json:"pagination"`
}

// mediaPagination is tldw_server's pagination of media lists.
type mediaPagination struct {
	Page           int `json:"page"`
	ResultsPerPage int `json:"results_per_page"`
	TotalPages     int `json:"total_pages"`
	TotalItems     int `json:"total_items"`
}

// mediaPageParams reads page and results_per_page: integers, page ≥ 1, 1 ≤ per page ≤ 100.
func mediaPageParams(q url.Values) (media.ListOptions, error) {
	o := media.ListOptions{Page: 1, PerPage: mediaDefaultPerPage}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &o.Page, 1 << 30}, {"results_per_page", &o.PerPage, media.MaxPerPage}} {
		v := strings.TrimSpace(q.Get(p.name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > p.max {
			return o, Errorf(http.StatusBadRequest, "invalid_parameter", "%s must be an integer from 1 to %d", p.name, p.max)
		}
		*p.dst = n
	}
	return o, nil
}

// handleMediaList serves GET /api/v1/media and /api/v1/media/trash: the caller's items.
func (s *mediaAPI) handleMediaList(trash bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, err := s.mediaService()
		if err != nil {
			return err
		}
		o, err := mediaPageParams(r.URL.Query())
		if err != nil {
			return err
		}
		uid := principalFrom(r.Context()).UserID
		var page media.Page
		if trash {
			page, err = svc.ListTrash(r.Context(), uid, o)
		} else {
			page, err = svc.List(r.Context(), uid, o)
		}
		if err != nil {
			return err
		}
		items := make([]mediaListItem, 0, len(page.Items))
		for i := range page.Items {
			it := &page.Items[i]
			li := mediaListItem{ID: it.ID, MediaID: it.ID, Title: it.Title, Type: it.MediaType, MediaType: it.MediaType,
				Author: it.Author, Filename: it.Filename, ContentType: it.ContentType, SizeBytes: it.Size,
				Status: string(it.Status), Keywords: append([]string{}, it.Keywords...), CreatedAt: formatTime(it.CreatedAt)}
			if it.TrashedAt != nil {
				t := formatTime(*it.TrashedAt)
				li.TrashDate = &t
			}
			items = append(items, li)
		}
		body := mediaList{Items: items, Pagination: mediaPagination{Page: o.Page, ResultsPerPage: o.PerPage,
			TotalPages: page.TotalPages(), TotalItems: page.Total}}
		return s.writeJSONETag(w, r, body)
	}
}

// writeJSONETag writes v as JSON with a strong ETag of its bytes, answering 304 when
// If-None-Match already names it.
func (s *mediaAPI) writeJSONETag(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
	return nil
}

// etagMatches reports whether an If-None-Match value names etag (or is "*"); weak
// comparison, as RFC 9110 asks for If-None-Match.
func etagMatches(header, etag string) bool {
	for v := range strings.SplitSeq(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || v == etag {
			return true
		}
	}
	return false
}

// handleMediaGet serves GET /api/v1/media/{id}: the caller's item (admins: any item).
func (s *mediaAPI) handleMediaGet(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.mediaTarget(r)
	if err != nil {
		return err
	}
	include := true
	if v := r.URL.Query().Get("include_content"); v != "" {
		b, ok := parseFormBool(v)
		if !ok {
			return Errorf(http.StatusBadRequest, "invalid_parameter", "include_content must be true or false")
		}
		include = b
	}
	a := s.mediaActor(r)
	it, err := svc.Get(r.Context(), a, id)
	if err != nil {
		return err
	}
	j := newMediaJSON(it)
	if !include {
		j.Content.Text = nil
	}
	if svc.Processing != nil {
		if err := s.addProcessing(r, svc, a, &j, include); err != nil {
			return err
		}
	}
	s.writeJSON(w, r, http.StatusOK, j)
	return nil
}

// chunkingStatus is tldw's chunking_status for the chunk stage's status.
var chunkingStatus = map[media.StageStatus]string{media.StagePending: "pending", media.StageRunning: "processing",
	media.StageDone: "completed", media.StageSkipped: "skipped", media.StageFailed: "failed"}

// addProcessing fills an item's processing state and (with include) its text into j.
func (s *mediaAPI) addProcessing(r *http.Request, svc *media.Service, a media.Actor, j *mediaJSON, include bool) error {
	p, err := svc.ProcessingOf(r.Context(), a, j.ID)
	if err != nil {
		return err
	}
	j.Status = string(p.Status)
	j.Processing.Status, j.Processing.Error, j.Processing.ChunkCount = string(p.Status), p.Error, p.ChunkCount
	j.Processing.ChunkingStatus = chunkingStatus[p.Stage(media.StageChunk).Status]
	j.Content.WordCount = p.WordCount
	c, err := svc.ContentOf(r.Context(), a, j.ID)
	if errors.Is(err, media.ErrNotFound) {
		return nil // no text yet
	}
	if err != nil {
		return err
	}
	j.Versions = []any{currentVersion(j, c, r.URL.Query().Get("include_version_content") == "true")}
	if !include {
		j.Content.Text = nil
		return nil
	}
	meta := map[string]any{}
	for k, v := range c.Metadata {
		meta[k] = v
	}
	j.Content.Text, j.Content.Metadata, j.Content.WordCount = &c.Text, meta, c.WordCount
	addTranscription(j, c)
	return nil
}

// addTranscription fills a transcript's facts into j: its segments, the model, the
// duration and whether timestamps were kept.
func addTranscription(j *mediaJSON, c *media.Content) {
	j.Segments = segmentsJSON(c.Segments)
	if m := c.Metadata[media.MetaTranscriptionModel]; m != "" {
		j.Processing.Model = &m
		ts := len(c.Segments) > 0
		j.Processing.TimestampOption = &ts
	}
	if d, err := strconv.ParseFloat(c.Metadata["duration_seconds"], 64); err == nil {
		j.Source.Duration = &d
	}
}

// handleMediaThumbnail serves GET /api/v1/media/{id}/thumbnail: the JPEG frame stored for
// a video the caller may read.
func (s *mediaAPI) handleMediaThumbnail(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.mediaTarget(r)
	if err != nil {
		return err
	}
	rc, info, err := svc.Thumbnail(r.Context(), s.mediaActor(r), id)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, no-cache")
	if info.Size > 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	if _, err := io.Copy(w, rc); err != nil {
		s.logger(r).WarnContext(r.Context(), "media thumbnail interrupted", "id", id, "error", err)
	}
	return nil
}

// mediaVersion is tldw's VersionDetailResponse. This server keeps no version history: an
// item with text has one version, number 1, the current text (replaced by reprocessing).
type mediaVersion struct {
	UUID            string  `json:"uuid"`
	MediaID         int64   `json:"media_id"`
	VersionNumber   int     `json:"version_number"`
	CreatedAt       string  `json:"created_at"`
	Prompt          *string `json:"prompt"`
	AnalysisContent *string `json:"analysis_content"`
	SafeMetadata    *string `json:"safe_metadata"`
	Content         *string `json:"content,omitempty"`
}

// currentVersion is the one version of an item's text c (with its text when withText).
func currentVersion(j *mediaJSON, c *media.Content, withText bool) mediaVersion {
	v := mediaVersion{UUID: j.UUID, MediaID: j.ID, VersionNumber: 1, CreatedAt: formatTime(c.UpdatedAt)}
	if c.Analysis != "" {
		v.AnalysisContent = &c.Analysis
	}
	if withText {
		v.Content = &c.Text
	}
	return v
}

// mediaActiveTypes are content types a browser could execute or render as a document; they
// are always served as application/octet-stream.
var mediaActiveTypes = []string{"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
	"application/xml", "text/javascript", "application/javascript", "application/ecmascript",
	"text/ecmascript", "application/x-javascript", "text/xsl"}

// mediaServeType is the Content-Type a download is served with.
func mediaServeType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt == "" || slices.Contains(mediaActiveTypes, mt) || strings.HasSuffix(mt, "+xml") {
		return "application/octet-stream"
	}
	return ct
}

// handleMediaFile serves GET /api/v1/media/{id}/file: the original bytes as an attachment,
// with an ETag from the content hash and Range support when the backend can seek.
func (s *mediaAPI) handleMediaFile(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.mediaTarget(r)
	if err != nil {
		return err
	}
	it, rc, info, err := svc.Open(r.Context(), s.mediaActor(r), id)
	if err != nil {
		return err
	}
	defer rc.Close()
	name := it.Filename
	if name == "" {
		name = fmt.Sprintf("media-%d", it.ID)
	}
	h := w.Header()
	h.Set("Content-Type", mediaServeType(it.ContentType))
	h.Set("Content-Disposition", contentDisposition(name)) // audit_routes.go: RFC 6266, sanitised
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", mediaDownloadCSP)
	h.Set("Cache-Control", "private, no-store")
	h.Set("ETag", `"`+it.ContentHash+`"`)
	if rs, ok := rc.(io.ReadSeeker); ok {
		if !dropEmptyRanges(r) {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(it.Size, 10))
			return statusError(http.StatusRequestedRangeNotSatisfiable)
		}
		http.ServeContent(&jsonErrorWriter{ResponseWriter: w, s: s.core, r: r}, r, "", info.ModTime, rs)
		return nil
	}
	if etagMatches(r.Header.Get("If-None-Match"), `"`+it.ContentHash+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Accept-Ranges", "none")
	h.Set("Content-Length", strconv.FormatInt(it.Size, 10))
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, rc); err != nil {
		s.logger(r).WarnContext(r.Context(), "media download interrupted", "id", it.ID, "error", err)
	}
	return nil
}

// dropEmptyRanges removes the suffix ranges of length 0 ("bytes=-0") from r's Range header,
// which http.ServeContent would answer with an inverted Content-Range: RFC 9110 makes them
// unsatisfiable. It reports false when the header named only such ranges (a 416).
func dropEmptyRanges(r *http.Request) bool {
	v, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !ok {
		return true
	}
	var keep []string
	for spec := range strings.SplitSeq(v, ",") {
		start, end, _ := strings.Cut(strings.TrimSpace(spec), "-")
		if n, err := strconv.ParseInt(strings.TrimSpace(end), 10, 64); strings.TrimSpace(start) == "" && err == nil && n == 0 {
			continue
		}
		keep = append(keep, spec)
	}
	if len(keep) == 0 {
		return false
	}
	r.Header.Set("Range", "bytes="+strings.Join(keep, ","))
	return true
}

// handleMediaTrash serves DELETE /api/v1/media/{id}: to the trash, 204 (also when already
// there).
func (s *mediaAPI) handleMediaTrash(w http.ResponseWriter, r *http.Request) error {
	return s.mediaChange(w, r, func(svc *media.Service, a media.Actor, id int64) (any, error) {
		return nil, svc.Trash(r.Context(), a, id)
	})
}

// handleMediaRestore serves POST /api/v1/media/{id}/restore.
func (s *mediaAPI) handleMediaRestore(w http.ResponseWriter, r *http.Request) error {
	return s.mediaChange(w, r, func(svc *media.Service, a media.Actor, id int64) (any, error) {
		if err := svc.Restore(r.Context(), a, id); err != nil {
			return nil, err
		}
		return mediaRestored{MediaID: id, Message: "Media restored from trash"}, nil
	})
}

// handleMediaDeletePermanent serves DELETE /api/v1/media/{id}/permanent: 204.
func (s *mediaAPI) handleMediaDeletePermanent(w http.ResponseWriter, r *http.Request) error {
	return s.mediaChange(w, r, func(svc *media.Service, a media.Actor, id int64) (any, error) {
		return nil, svc.DeletePermanent(r.Context(), a, id)
	})
}

// mediaChange runs a change on item {id} and answers with its JSON, or 204 when it has none.
func (s *mediaAPI) mediaChange(w http.ResponseWriter, r *http.Request,
	fn func(*media.Service, media.Actor, int64) (any, error)) error {
	svc, id, err := s.mediaTarget(r)
	if err != nil {
		return err
	}
	v, err := fn(svc, s.mediaActor(r), id)
	if err != nil {
		return err
	}
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	s.writeJSON(w, r, http.StatusOK, v)
	return nil
}

// handleMediaEmptyTrash serves POST /api/v1/media/trash/empty.
func (s *mediaAPI) handleMediaEmptyTrash(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.mediaService()
	if err != nil {
		return err
	}
	n, err := svc.EmptyTrash(r.Context(), s.mediaActor(r))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, trashEmptied{DeletedCount: n, Message: fmt.Sprintf("Deleted %d items from the trash", n)})
	return nil
}

// mediaRestored is the response of POST /media/{id}/restore.
type mediaRestored struct {
	MediaID int64  `json:"media_id"`
	Message string `json:"message"`
}

// trashEmptied is the response of POST /media/trash/empty.
type trashEmptied struct {
	DeletedCount int    `json:"deleted_count"`
	Message      string `json:"message"`
}

// Upload form handling.

// mediaResult is one entry of /media/add's results, in tldw_server's MediaItemProcessResult
// shape plus media_id (clients read it as well as db_id) and job_id (the item's processing
// job). Status is "Success", "Warning" (stored, processing still running when the request
// stopped waiting), "Error", or "Queued" (async requests: stored, processing not awaited).
// Content is the extracted text and Chunks the number of chunks once processing is done.
type mediaResult struct {
	Status           string         `json:"status"`
	InputRef         string         `json:"input_ref"`
	ProcessingSource string         `json:"processing_source"`
	MediaType        string         `json:"media_type"`
	Metadata         map[string]any `json:"metadata"`
	Content          *string        `json:"content"`
	Transcript       *string        `json:"transcript"`
	Segments         []any          `json:"segments" oapi:"nullable"`
	Chunks           int            `json:"chunks"`
	Analysis         *string        `json:"analysis"`
	Summary          *string        `json:"summary"`
	AnalysisDetails  map[string]any `json:"analysis_details"`
	Error            *string        `json:"error"`
	ErrorCode        string         `json:"error_code,omitempty"`
	Warnings         []string       `json:"warnings"`
	DBID             *int64         `json:"db_id"`
	MediaID          *int64         `json:"media_id"`
	DBMessage        *string        `json:"db_message"`
	MediaUUID        *string        `json:"media_uuid"`
	JobID            *int64         `json:"job_id"`
}

// mediaForm is the state of one /media/add request while its parts are read.
type mediaForm struct {
	mediaType, title, author string
	keywords                 []string
	overwrite                bool
	async                    bool
	proc                     media.ProcessOptions
	urls                     []string
	ignored                  []string // form fields this server does not apply
	fieldBytes               int      // bytes of non-file fields so far
	fileBytes                int64    // bytes of file contents read so far
	files                    []spooledFile
	room                     int64          // the most bytes one file may have (upload cap, quota room); -1: no bound
	seen                     map[int64]bool // item ids already reported (file and files deduplicate)
	maxItems                 int            // files + urls accepted per request
	results                  []mediaResult
	failed                   string // the input that ended the form early, if a file did
}

// spooledFile is a file part saved to a temporary file until the whole form has been read,
// so that fields sent after the files still apply to them.
type spooledFile struct {
	filename, ref string
	file          *os.File
	size          int64
}

// remove closes and deletes the spooled file (once).
func (sf *spooledFile) remove() {
	if sf.file == nil {
		return
	}
	_ = sf.file.Close()
	_ = os.Remove(sf.file.Name())
	sf.file = nil
}

// cleanup removes every spooled file: nothing of a request is left in the temp directory.
func (f *mediaForm) cleanup() {
	for i := range f.files {
		f.files[i].remove()
	}
}

// mediaHonoured are the /media/add fields this server applies.
var mediaHonoured = []string{"media_type", "title", "author", "keywords", "keywords_str", "overwrite_existing", "urls",
	"chunk_method", "chunk_size", "chunk_overlap", "perform_chunking", "ocr_mode", "ocr_lang", "async",
	"transcription_model", "transcription_language", "start_time", "end_time", "timestamp_option", "vad_use", "diarize"}

// transcriptionModelRE is what transcription_model may be (a provider's model name, such
// as deepdml/faster-distil-whisper-large-v3.5 or whisper-1).
var transcriptionModelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$`)

// languageRE is what transcription_language may be: an ISO 639 code, optionally with a
// region (en, eng, pt-BR).
var languageRE = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$`)

// mediaFieldNameRE matches field names worth echoing in a warning.
var mediaFieldNameRE = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{1,64}$`)

// ocrLangRE is what ocr_lang may be: tesseract language codes joined by '+'.
var ocrLangRE = regexp.MustCompile(`^[a-z_]{1,32}(\+[a-z_]{1,32}){0,7}$`)

// uploadBody is the request body behind http.MaxBytesReader (when there is a limit); it
// remembers that the limit was hit, which the multipart reader and the media service may
// report as some other error.
type uploadBody struct {
	io.ReadCloser
	over bool
}

func (b *uploadBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.over = true
	}
	return n, err
}

var errUploadTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
	Detail: "Request body is too large"}

// countReader counts bytes read through it and remembers a read error other than io.EOF.
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// handleMediaAdd serves POST /api/v1/media/add. The whole form is read first: file parts
// are spooled to temporary files (each bounded by MAX_UPLOAD_SIZE_MB and the owner's
// remaining quota, all removed when the request ends), so fields may come before or after
// the files. Then each file goes into media.Service.Upload (quota reserved, hashed, stored,
// its processing job enqueued) and, unless the client asked for async (form field
// async=true or header Prefer: respond-async), the request waits for processing up to
// Service.AddWait (the job is durable: a client that goes away does not stop it). The
// answer is tldw_server's {"results": [...]} plus processed_count, errors_count and
// errors: 200 when every input succeeded, 207 when some failed, 202 for async requests
// with queued jobs, 400 when there was no input; a form refused for size or quota before
// anything was stored is a 413 (storage_quota_exceeded for the quota).
func (s *mediaAPI) handleMediaAdd(w http.ResponseWriter, r *http.Request) error {
	return s.handleMediaForm(w, r, "")
}

// handleMediaProcess serves POST /api/v1/media/process-*: the /media/add form with
// media_type fixed, each file extracted and chunked in the request
// (media.Service.ProcessEphemeral) and nothing stored; answered as tldw's
// BatchMediaProcessResponse (the /media/add body without db_id values).
func (s *mediaAPI) handleMediaProcess(mediaType string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return s.handleMediaForm(w, r, mediaType) }
}

// handleMediaForm reads a /media/add or /media/process-* form (ephemeral: the media type
// of a process-* route) and answers it.
func (s *mediaAPI) handleMediaForm(w http.ResponseWriter, r *http.Request, ephemeral string) error {
	svc, err := s.mediaService()
	if err != nil {
		return err
	}
	if ephemeral != "" && svc.Pipeline == nil {
		return Errorf(http.StatusServiceUnavailable, "service_unavailable", "media processing is not enabled on this server")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Detail: "Content-Type must be multipart/form-data"}
	}
	limit := int64(-1)
	if svc.MaxUploadBytes > 0 {
		limit = svc.MaxUploadBytes + mediaMaxFieldsBytes
	}
	if limit >= 0 && r.ContentLength > limit {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Detail: fmt.Sprintf("Upload exceeds the maximum size of %d MB", svc.MaxUploadBytes>>20)}
	}
	actor := s.mediaActor(r)
	room := svc.MaxUploadBytes // nothing stored, no quota
	if room <= 0 {
		room = -1
	}
	if ephemeral == "" {
		// Decisive from Content-Length: refused before 100 Continue, nothing read.
		if err := svc.CheckDeclared(r.Context(), actor, r.ContentLength-mediaMaxFieldsBytes); err != nil {
			return err
		}
		if room, err = uploadRoom(r, svc, actor); err != nil {
			return err
		}
	}
	body := &uploadBody{ReadCloser: r.Body}
	if limit >= 0 {
		body.ReadCloser = http.MaxBytesReader(w, r.Body, limit)
	}
	// multipart reads in 4 KiB pieces; a larger buffer below it saves system calls.
	r.Body = struct {
		io.Reader
		io.Closer
	}{bufio.NewReaderSize(body, uploadReadBuffer), body}
	mr, err := r.MultipartReader()
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed multipart form", Err: err}
	}
	f := &mediaForm{seen: map[int64]bool{}, maxItems: s.mediaAddMaxItems(), room: room}
	defer f.cleanup()
	// A form that ended early on a size or count limit stores the files read before the
	// failure (reported with it, as a 207) when it has one; otherwise nothing is stored.
	fatal := s.readMediaForm(r, svc, mr, body, f, actor)
	if fatal != nil && (len(f.files) == 0 || !keepsEarlierFiles(fatal)) {
		return fatal
	}
	if ephemeral != "" {
		f.mediaType = ephemeral
	}
	if err := f.check(); err != nil {
		if fatal != nil {
			return fatal
		}
		return err
	}
	if ephemeral != "" {
		s.processFiles(r, svc, f, actor)
		return s.finishMediaAdd(w, r, f, fatal, false)
	}
	async := f.async || preferAsync(r)
	storeErr := s.storeFiles(r, svc, f, actor)
	if storeErr == nil {
		s.storeURLs(r, svc, f, actor)
	}
	if fatal == nil {
		fatal = storeErr
	}
	if !async {
		s.awaitProcessing(r, svc, f)
	}
	if async {
		w.Header().Set("Preference-Applied", "respond-async")
	}
	return s.finishMediaAdd(w, r, f, fatal, async)
}

// keepsEarlierFiles reports whether a form that ended with err still stores the files
// before it: past the input count or a size limit, not for a bad or broken form.
func keepsEarlierFiles(err error) bool {
	e := classify(err, time.Time{})
	return e.Code == "too_many_inputs" || e.Status == http.StatusRequestEntityTooLarge
}

// check validates the form once it has been read: media_type and the processing options.
func (f *mediaForm) check() error {
	if f.mediaType == "" {
		return missingFields("media_type")
	}
	if err := media.ValidType(f.mediaType); err != nil {
		return mediaFieldError("media_type", "media_type must be one of "+strings.Join(media.Types(), ", "))
	}
	return checkProcessOptions(f.proc)
}

// uploadRoom is the most bytes one file of the actor may have: MaxUploadBytes and what is
// left of the storage quota (ignoring live reservations, which Upload accounts for); -1
// when neither bounds it.
func uploadRoom(r *http.Request, svc *media.Service, actor media.Actor) (int64, error) {
	room := int64(-1)
	if svc.MaxUploadBytes > 0 {
		room = svc.MaxUploadBytes
	}
	u, err := svc.Usage(r.Context(), actor.UserID)
	if err != nil {
		return 0, err
	}
	if u.Limit >= 0 {
		left := max(0, u.Limit-u.Used)
		if room < 0 || left < room {
			room = left
		}
	}
	return room, nil
}

// preferAsync reports whether the request carries Prefer: respond-async (RFC 7240).
func preferAsync(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for p := range strings.SplitSeq(v, ",") {
			if tok, _, _ := strings.Cut(strings.TrimSpace(p), ";"); strings.EqualFold(strings.TrimSpace(tok), "respond-async") {
				return true
			}
		}
	}
	return false
}

// uploadReadBuffer buffers an upload's body between the connection and the multipart parser.
const uploadReadBuffer = 64 << 10

// readMediaForm consumes the parts: fields are applied, files spooled. It returns the error
// that ended the form early, if any.
func (s *mediaAPI) readMediaForm(r *http.Request, svc *media.Service, mr *multipart.Reader, body *uploadBody,
	f *mediaForm, actor media.Actor) error {
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if body.over {
				return errUploadTooLarge
			}
			return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed or truncated multipart form", Err: err}
		}
		// A MEDIA_ADD_MAX_ITEMS above the default raises the part cap as much.
		if maxParts := mediaMaxParts + max(0, f.maxItems-DefaultMediaAddMaxItems); parts >= maxParts {
			return Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "Too many form parts (at most %d)", maxParts)
		}
		if name := part.FormName(); name == "files" || name == "file" {
			err = s.spoolFile(r, svc, part, body, f, actor)
		} else {
			err = f.field(name, part, body)
		}
		if err != nil {
			return err // the request ends here; the rest of the body is not read
		}
		if err := part.Close(); err != nil {
			if body.over {
				return errUploadTooLarge
			}
			return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed or truncated multipart form", Err: err}
		}
	}
}

// mediaFieldError is a 422 naming one form field.
func mediaFieldError(field, msg string) error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error", Detail: msg,
		Fields: []FieldError{{Loc: []string{"body", field}, Msg: msg, Type: "value_error"}}}
}

// field reads one non-file form field (bounded) and applies it.
func (f *mediaForm) field(name string, part io.Reader, body *uploadBody) error {
	v, err := io.ReadAll(io.LimitReader(part, mediaMaxFieldBytes+1))
	switch {
	case body.over:
		return errUploadTooLarge
	case err != nil:
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed or truncated multipart form", Err: err}
	case len(v) > mediaMaxFieldBytes:
		return Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "A form field is larger than %d KiB", mediaMaxFieldBytes>>10)
	}
	if f.fieldBytes += len(v); f.fieldBytes > mediaMaxFieldsBytes {
		return Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "Form fields exceed %d KiB", mediaMaxFieldsBytes>>10)
	}
	if !slices.Contains(mediaHonoured, name) {
		if mediaFieldNameRE.MatchString(name) && !slices.Contains(f.ignored, name) && len(f.ignored) < mediaMaxIgnored {
			f.ignored = append(f.ignored, name)
		}
		return nil
	}
	val := string(v)
	if err := checkText(val); err != nil {
		return err
	}
	if name == "urls" {
		return f.addURLs(val)
	}
	if name == "keywords" || name == "keywords_str" {
		kws, err := media.ParseKeywords(val)
		if err != nil {
			return mediaFieldError(name, detailFor(err, media.ErrInvalid, "invalid keywords"))
		}
		f.keywords = append(f.keywords, kws...)
		return nil
	}
	return f.option(name, val)
}

// option applies one scalar field of the form.
func (f *mediaForm) option(name, val string) error {
	trimmed := strings.TrimSpace(val)
	boolean := func(dst *bool, invert bool) error {
		b, ok := parseFormBool(val)
		if !ok {
			return mediaFieldError(name, name+" must be true or false")
		}
		*dst = b != invert
		return nil
	}
	integer := func(dst *int) error {
		if trimmed == "" {
			*dst = 0
			return nil
		}
		n, err := strconv.Atoi(trimmed)
		if err != nil || n < 0 {
			return mediaFieldError(name, name+" must be a non-negative integer")
		}
		*dst = n
		return nil
	}
	switch name {
	case "media_type":
		f.mediaType = strings.ToLower(trimmed)
	case "title":
		f.title = val
	case "author":
		f.author = val
	case "overwrite_existing":
		return boolean(&f.overwrite, false)
	case "async":
		return boolean(&f.async, false)
	case "perform_chunking":
		return boolean(&f.proc.NoChunking, true)
	case "chunk_method":
		f.proc.Chunk.Method = strings.ToLower(trimmed)
	case "chunk_size":
		return integer(&f.proc.Chunk.Size)
	case "chunk_overlap":
		return integer(&f.proc.Chunk.Overlap)
	case "ocr_mode":
		f.proc.Extract.OCRMode = strings.ToLower(trimmed)
	case "ocr_lang":
		f.proc.Extract.OCRLang = trimmed
	case "transcription_model":
		if trimmed != "" && !transcriptionModelRE.MatchString(trimmed) {
			return mediaFieldError(name, "transcription_model must be a model name (letters, digits and ._:/@+-, at most 200)")
		}
		f.proc.Transcribe.Model = trimmed
	case "transcription_language":
		if strings.EqualFold(trimmed, "auto") {
			trimmed = ""
		}
		if trimmed != "" && !languageRE.MatchString(trimmed) {
			return mediaFieldError(name, "transcription_language must be a language code such as en, or auto")
		}
		f.proc.Transcribe.Language = trimmed
	case "start_time", "end_time":
		dst := &f.proc.Transcribe.Start
		if name == "end_time" {
			dst = &f.proc.Transcribe.End
		}
		if trimmed == "" {
			*dst = 0
			return nil
		}
		d, err := media.ParseClock(trimmed)
		if err != nil {
			return mediaFieldError(name, name+" must be HH:MM:SS, MM:SS or seconds")
		}
		*dst = d
	case "timestamp_option":
		return boolean(&f.proc.Transcribe.NoTimestamps, true)
	case "vad_use":
		return boolean(&f.proc.Transcribe.VAD, false)
	case "diarize":
		return boolean(&f.proc.Transcribe.Diarize, false)
	}
	return nil
}

// addURLs adds the whitespace-separated URLs of one urls field.
func (f *mediaForm) addURLs(val string) error {
	for u := range strings.FieldsSeq(val) {
		if len(u) > mediaMaxURLBytes {
			return Errorf(http.StatusBadRequest, "url_too_long", "A URL is longer than %d bytes", mediaMaxURLBytes)
		}
		if err := f.count(); err != nil {
			return err
		}
		f.urls = append(f.urls, u)
	}
	return nil
}

// checkProcessOptions validates the processing options of a form or a reprocess request:
// a 422 naming the field at fault.
func checkProcessOptions(o media.ProcessOptions) error {
	switch o.Extract.OCRMode {
	case "", media.OCRFallback, media.OCRAlways, media.OCROff:
	default:
		return mediaFieldError("ocr_mode", "ocr_mode must be fallback, always or off")
	}
	if l := o.Extract.OCRLang; l != "" && !ocrLangRE.MatchString(l) {
		return mediaFieldError("ocr_lang", "ocr_lang must be tesseract language codes joined by '+' (such as eng or eng+deu)")
	}
	if err := o.Transcribe.Check(); err != nil {
		return mediaFieldError("end_time", detailFor(err, media.ErrInvalid, "end_time must be after start_time"))
	}
	if o.NoChunking {
		return nil
	}
	_, err := o.Chunk.Normalized()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, media.ErrUnsupported):
		return mediaFieldError("chunk_method", "chunk_method "+o.Chunk.Method+" is not available on this server (it needs embeddings)")
	case errors.Is(err, media.ErrInvalid):
		field := "chunk_size"
		if o.Chunk.Overlap > 0 && strings.Contains(strings.ToLower(err.Error()), "overlap") {
			field = "chunk_overlap"
		}
		if !slices.Contains([]string{"", media.ChunkWords, media.ChunkSentences, media.ChunkParagraphs, media.ChunkTokens,
			media.ChunkEbookChapters}, o.Chunk.Method) {
			field = "chunk_method"
		}
		return mediaFieldError(field, detailFor(err, media.ErrInvalid, "invalid chunking options"))
	}
	return err
}

// count admits one more input (file or url), or answers 400 too_many_inputs past maxItems.
func (f *mediaForm) count() error {
	if len(f.files)+len(f.urls) >= f.maxItems {
		return Errorf(http.StatusBadRequest, "too_many_inputs", "Too many inputs: at most %d files and urls per request", f.maxItems)
	}
	return nil
}

// mediaAddMaxItems is Options.MediaAddMaxItems or its default.
func (s *mediaAPI) mediaAddMaxItems() int {
	if s.o.MediaAddMaxItems > 0 {
		return s.o.MediaAddMaxItems
	}
	return DefaultMediaAddMaxItems
}

// parseFormBool reads a form boolean as FastAPI does (true/false, 1/0, yes/no, on/off).
func parseFormBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "t", "y":
		return true, true
	case "false", "0", "no", "off", "f", "n", "":
		return false, true
	}
	return false, false
}

// spoolFile saves one file part to a temporary file, at most f.room bytes: a larger one
// ends the request (413: payload_too_large past MAX_UPLOAD_SIZE_MB, storage_quota_exceeded
// past the quota, audited). An empty part without a filename (a browser's "no file chosen")
// is skipped.
func (s *mediaAPI) spoolFile(r *http.Request, svc *media.Service, part *multipart.Part, body *uploadBody,
	f *mediaForm, actor media.Actor) (err error) {
	if err := f.count(); err != nil {
		f.failed = media.SanitizeFilename(part.FileName())
		return err
	}
	defer func() {
		if err != nil { // only complete files stay spooled
			f.files[len(f.files)-1].remove()
			f.files = f.files[:len(f.files)-1]
		}
	}()
	tmp, err := os.CreateTemp("", "tldw-upload-*")
	if err != nil {
		return fmt.Errorf("spool upload: %w", err)
	}
	filename := part.FileName()
	ref := media.SanitizeFilename(filename)
	if ref == "" {
		ref = fmt.Sprintf("file %d", len(f.files)+1)
	}
	f.files = append(f.files, spooledFile{filename: filename, ref: ref, file: tmp})
	sf := &f.files[len(f.files)-1]
	cr := &countReader{r: part}
	var src io.Reader = cr
	if f.room >= 0 {
		src = io.LimitReader(cr, f.room+1)
	}
	n, err := io.Copy(tmp, src)
	f.fileBytes += n
	sf.size = n
	switch {
	case body.over:
		f.failed = ref
		return errUploadTooLarge
	case cr.err != nil:
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed or truncated multipart form", Err: cr.err}
	case err != nil:
		return fmt.Errorf("spool upload: %w", err)
	case f.room >= 0 && n > f.room:
		f.failed = ref
		if svc.MaxUploadBytes > 0 && f.room >= svc.MaxUploadBytes {
			return Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "The file exceeds the maximum upload size of %d bytes", svc.MaxUploadBytes)
		}
		if err := svc.CheckDeclared(r.Context(), actor, n); err != nil {
			return err
		}
		return fmt.Errorf("%w: the file does not fit in the remaining storage", media.ErrQuotaExceeded)
	case n == 0 && filename == "":
		sf.remove()
		f.files = f.files[:len(f.files)-1]
	}
	return nil
}

// storeFiles uploads the spooled files in order, recording each one's result. A file
// refused for its content is an error result and the others go on; any other failure (size,
// quota, the storage backend) ends the request and is returned: the files before it stay
// stored (a 207), and a request whose first file fails that way is answered with the error.
func (s *mediaAPI) storeFiles(r *http.Request, svc *media.Service, f *mediaForm, actor media.Actor) error {
	for i := range f.files {
		sf := &f.files[i]
		if _, err := sf.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("spooled upload: %w", err)
		}
		res, err := svc.Upload(r.Context(), media.Upload{Actor: actor, Filename: sf.filename, MediaType: f.mediaType,
			Title: f.title, Author: f.author, Keywords: f.keywords, Overwrite: f.overwrite, Body: sf.file,
			DeclaredSize: sf.size, Process: f.proc})
		sf.remove()
		switch {
		case err == nil:
			if res.Outcome == media.OutcomeDuplicate && f.seen[res.Item.ID] {
				continue // the same content twice in one request (file and files): reported once
			}
			f.seen[res.Item.ID] = true
			f.results = append(f.results, mediaSuccess(sf.ref, res))
		case errors.Is(err, media.ErrInvalid):
			f.results = append(f.results, mediaFailure(sf.ref, f.mediaType, classify(err, s.now())))
		default:
			f.failed = sf.ref
			return err
		}
	}
	return nil
}

// processFiles extracts and chunks the spooled files without storing them, each file's
// temporary copy removed once it is done; URLs are not_supported results.
func (s *mediaAPI) processFiles(r *http.Request, svc *media.Service, f *mediaForm, actor media.Actor) {
	for i := range f.files {
		sf := &f.files[i]
		name := sf.file.Name()
		out, err := svc.ProcessEphemeral(r.Context(), media.Ephemeral{Actor: actor, Filename: sf.filename,
			MediaType: f.mediaType, Size: sf.size, Process: f.proc,
			Open: func() (io.ReadCloser, error) { return os.Open(name) }})
		sf.remove()
		if err != nil {
			e := classify(err, s.now())
			if e.Status >= 500 {
				s.logger(r).WarnContext(r.Context(), "media process failed", "error", err)
			}
			f.results = append(f.results, mediaFailure(sf.ref, f.mediaType, e))
			continue
		}
		meta := map[string]any{"filename": media.SanitizeFilename(sf.filename), "content_type": out.ContentType,
			"size_bytes": sf.size, "word_count": out.WordCount}
		for k, v := range out.Metadata {
			if _, taken := meta[k]; !taken {
				meta[k] = v
			}
		}
		text := out.Text
		res := mediaResult{Status: "Success", InputRef: sf.ref, ProcessingSource: sf.ref,
			MediaType: f.mediaType, Metadata: meta, Content: &text, Chunks: len(out.Chunks),
			AnalysisDetails: map[string]any{}, Warnings: append([]string{}, out.Warnings...)}
		if f.mediaType == media.TypeAudio || f.mediaType == media.TypeVideo {
			res.Transcript = &text
			for _, sg := range segmentsJSON(out.Segments) {
				res.Segments = append(res.Segments, sg)
			}
		}
		f.results = append(f.results, res)
	}
	for _, u := range f.urls {
		f.results = append(f.results, mediaFailure(truncateUTF8(strings.ToValidUTF8(u, ""), mediaMaxURLBytes), f.mediaType,
			&Error{Code: "not_supported", Detail: "The process endpoints take files; ingest URLs with /api/v1/media/add"}))
	}
}

// storeURLs fetches and stores the form's URLs in order (media.Service.UploadURL: SSRF
// guard, size and time limits, the daily fetch budget, the quota). Every failure is that
// URL's error result; without a Fetcher each URL is a not_supported result.
func (s *mediaAPI) storeURLs(r *http.Request, svc *media.Service, f *mediaForm, actor media.Actor) {
	for _, u := range f.urls {
		ref := u
		if len(ref) > mediaMaxURLBytes || !utf8.ValidString(ref) {
			ref = truncateUTF8(strings.ToValidUTF8(ref, ""), mediaMaxURLBytes)
		}
		if svc.Fetcher == nil {
			f.results = append(f.results, mediaFailure(ref, f.mediaType, &Error{Code: "not_supported",
				Detail: "URL ingestion is not enabled on this server; upload the file instead"}))
			continue
		}
		res, err := svc.UploadURL(r.Context(), media.URLUpload{Actor: actor, URL: u, MediaType: f.mediaType,
			Title: f.title, Author: f.author, Keywords: f.keywords, Overwrite: f.overwrite, Process: f.proc})
		switch {
		case err != nil:
			e := classify(err, s.now())
			if e.Status >= 500 {
				s.logger(r).WarnContext(r.Context(), "media add: url ingest failed", "error", err)
			}
			f.results = append(f.results, mediaFailure(ref, f.mediaType, e))
		case res.Outcome == media.OutcomeDuplicate && f.seen[res.Item.ID]:
		default:
			f.seen[res.Item.ID] = true
			f.results = append(f.results, mediaSuccess(ref, res))
		}
	}
}

// awaitProcessing waits (up to Service.AddWait in all, and while the client is there) for
// the processing of every stored item, and fills in its text, chunk count and status: an
// item whose processing failed becomes an Error result, one still running a Warning.
func (s *mediaAPI) awaitProcessing(r *http.Request, svc *media.Service, f *mediaForm) {
	if svc.Processing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), svc.AddWait)
	defer cancel()
	uid := principalFrom(r.Context()).UserID
	for i := range f.results {
		res := &f.results[i]
		if res.Status != "Success" || res.DBID == nil {
			continue
		}
		p, err := svc.WaitProcessed(ctx, uid, *res.DBID)
		if p == nil {
			if err != nil && ctx.Err() == nil {
				s.logger(r).WarnContext(r.Context(), "media add: read processing state", "id", *res.DBID, "error", err)
			}
			res.Status = "Warning"
			res.Warnings = append(res.Warnings, stillProcessing(res.JobID))
			continue
		}
		s.applyProcessing(r, svc, res, p)
	}
}

// stillProcessing is the warning of an item whose processing had not ended when the request
// stopped waiting.
func stillProcessing(job *int64) string {
	if job == nil {
		return "Still processing; GET /api/v1/media/{id} shows the result"
	}
	return fmt.Sprintf("Still processing; follow GET /api/v1/media/ingest/jobs/%d", *job)
}

// applyProcessing puts an item's processing state into its result.
func (s *mediaAPI) applyProcessing(r *http.Request, svc *media.Service, res *mediaResult, p *media.Processing) {
	res.Metadata["status"] = string(p.Status)
	res.Chunks = p.ChunkCount
	for _, st := range p.Stages {
		res.Warnings = append(res.Warnings, st.Warnings...)
	}
	switch p.Status {
	case media.StatusProcessed:
		c, err := svc.ContentOf(r.Context(), s.mediaActor(r), *res.DBID)
		if err == nil {
			res.Content = &c.Text
			if c.Metadata[media.MetaTranscriptionModel] != "" {
				res.Transcript = &c.Text
				for _, sg := range segmentsJSON(c.Segments) {
					res.Segments = append(res.Segments, sg)
				}
			}
		} else if !errors.Is(err, media.ErrNotFound) {
			s.logger(r).WarnContext(r.Context(), "media add: read content", "id", *res.DBID, "error", err)
		}
	case media.StatusFailed, media.StatusCancelled:
		msg := p.Error
		if msg == "" {
			msg = "processing " + string(p.Status)
		}
		res.Status, res.Error, res.ErrorCode = "Error", &msg, "processing_"+string(p.Status)
	case media.StatusQueued, media.StatusProcessing:
		res.Status = "Warning"
		res.Warnings = append(res.Warnings, stillProcessing(res.JobID))
	}
}

// mediaSuccess is the result of a stored (or already present) file.
func mediaSuccess(ref string, res *media.Result) mediaResult {
	it := res.Item
	id, uuid, msg := it.ID, it.UUID, res.Message
	out := mediaResult{Status: "Success", InputRef: ref, ProcessingSource: ref, MediaType: it.MediaType,
		Metadata: map[string]any{"title": it.Title, "author": it.Author, "keywords": append([]string{}, it.Keywords...),
			"filename": it.Filename, "content_type": it.ContentType, "size_bytes": it.Size,
			"content_hash": it.ContentHash, "status": string(it.Status), "outcome": string(res.Outcome)},
		AnalysisDetails: map[string]any{}, Warnings: append([]string{}, res.Warnings...),
		DBID: &id, MediaID: &id, DBMessage: &msg, MediaUUID: &uuid}
	if res.Job != nil {
		job := res.Job.ID
		out.JobID = &job
	}
	return out
}

// mediaFailure is the result of an input that was not stored.
func mediaFailure(ref, mediaType string, e *Error) mediaResult {
	detail := e.Detail
	if e.Status >= 500 {
		detail = "internal error"
	}
	return mediaResult{Status: "Error", InputRef: ref, ProcessingSource: ref, MediaType: mediaType,
		Metadata: map[string]any{}, AnalysisDetails: map[string]any{}, Error: &detail, ErrorCode: e.Code,
		Warnings: []string{}}
}

// finishMediaAdd answers /media/add from the form's results and the error that ended it.
func (s *mediaAPI) finishMediaAdd(w http.ResponseWriter, r *http.Request, f *mediaForm, fatal error, async bool) error {
	if fatal != nil && len(f.results) == 0 {
		return fatal
	}
	if fatal != nil {
		s.logger(r).WarnContext(r.Context(), "media upload ended early", "error", fatal)
		ref := f.failed
		if ref == "" {
			ref = "form"
		}
		f.results = append(f.results, mediaFailure(ref, f.mediaType, classify(fatal, s.now())))
	}
	if len(f.results) == 0 {
		return Errorf(http.StatusBadRequest, "no_valid_input", "No valid media sources supplied: send files or urls")
	}
	var warning string
	if len(f.ignored) > 0 {
		warning = "Not applied by this server: " + strings.Join(f.ignored, ", ")
	}
	ok, failed, queued := 0, 0, 0
	errs := []string{}
	for i := range f.results {
		res := &f.results[i]
		if warning != "" {
			res.Warnings = append(res.Warnings, warning)
		}
		if async && res.Status == "Success" && res.JobID != nil {
			res.Status = "Queued"
			queued++
		}
		if res.Status != "Error" {
			ok++
			continue
		}
		failed++
		errs = append(errs, res.InputRef+": "+*res.Error)
	}
	status := http.StatusOK
	switch {
	case queued > 0:
		status = http.StatusAccepted
	case failed > 0:
		status = http.StatusMultiStatus
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := writeMediaResults(w, f.results, ok, failed, errs); err != nil {
		s.logger(r).WarnContext(r.Context(), "media add response interrupted", "error", err)
	}
	return nil
}

// writeMediaResults streams /media/add's body, {"results": [...], "processed_count",
// "errors_count", "errors"}, one result at a time, so a large answer is never built whole.
func writeMediaResults(w io.Writer, results []mediaResult, ok, failed int, errs []string) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw) // each Encode ends with a newline, which JSON allows between tokens
	bw.WriteString(`{"results":[`)
	for i := range results {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(&results[i]); err != nil {
			return err
		}
	}
	fmt.Fprintf(bw, `],"processed_count":%d,"errors_count":%d,"errors":`, ok, failed)
	if err := enc.Encode(errs); err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}
