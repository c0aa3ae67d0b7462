// Package media holds users' media items, the files they upload, and turns them into text
// and chunks. [Service] streams an upload into storage.Blobs under a quota reservation
// (quota.Ledger), hashing and sniffing it on the way, detects duplicate content per user,
// records the [Item] in a [Store] and audits it; it also serves reads, the trash lifecycle
// and quota reconciliation.
//
// Every item belongs to one user, and every Store method that reads or changes items takes
// the user id: isolation is enforced in the store, and another user's item is ErrNotFound,
// exactly like a missing one. Only [Store.ByIDAny] (admin reads) crosses users.
//
// Processing rests on two contracts: [Extractor] turns a [Source] into text and [Chunker]
// cuts text into chunks with offsets ([TextChunker]; media/tiktoken counts BPE tokens for
// chunk_method=tokens). [Extractors] routes a Source by [FormatOf] (sniffed type, the
// extension deciding among text types, archives refused) to the adapters: media/plaintext,
// media/readability for web pages, media/ooxml for DOCX/PPTX/XLSX, media/epub, media/email,
// media/pandoc for ODT/RTF, media/poppler or media/pdfium (PDFium in WebAssembly, no tool
// needed) for PDFs, and media/tesseract for images and for PDF pages without a text layer.
// [OpenZip] guards every zip container against bombs; external programs run only through
// [Run] (own temporary directory, timeout, memory limit, process group killed on cancel;
// [SweepTemp] removes what a crash left). [DetectTools] reports which programs are
// installed. media/httpfetch downloads URLs behind an SSRF guard. Each contract has its
// conformance suite in mediatest.
//
// [Pipeline] turns a stored item into text and chunks: probe → extract (or transcribe, with
// a [Transcriber]) → chunk → index ([Indexer]) → analyze ([Summarizer]); a nil hook skips
// its stage. Every stage's state, timings, warnings and error are recorded in a
// [ProcessingStore] as it runs, so progress is read from the database. [Jobs] makes the
// processing durable: [Jobs.CreateItem] records an item and enqueues its job in one
// transaction, and its workers call [Pipeline.Handle]; [Permanent] errors end a job at once,
// others are retried with backoff. [Service] exposes the results ([Service.ProcessingOf],
// [Service.ContentOf], [Service.ChunksOf], [Service.WaitProcessed]) and the jobs
// ([Service.ListJobs], [Service.JobOf], [Service.CancelJob], [Service.RetryJob],
// [Service.Reprocess]). storage/sqlstore implements ProcessingStore and Jobs (on River).
//
// The package imports only the standard library, github.com/google/uuid,
// golang.org/x/text (Unicode normalisation) and the storage, quota and audit domain
// packages. Content-type sniffing is
// an interface ([Sniffer]) implemented by media/mimesniff; the SQL store lives in
// storage/sqlstore; mediatest has an in-memory Store and the conformance suite every Store
// runs.
package media
