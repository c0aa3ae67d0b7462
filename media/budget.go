package media

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/quota"
)

// MetaOCRPages is the Extracted.Metadata key under which OCR extractors report how many
// pages (or images) they read by OCR, as a decimal count; the Pipeline charges it to the
// owner's daily OCR budget (Pipeline.OCRPagesPerDay).
const MetaOCRPages = "ocr_pages"

// The bytes an item's derived data count against its owner's storage quota: the extracted
// text with its thumbnail (MetaThumbnailBytes), the text of its chunks, and the text of its
// transcripts.
func contentBytes(c *Content) int64 {
	if c == nil {
		return 0
	}
	thumb, _ := strconv.ParseInt(c.Metadata[MetaThumbnailBytes], 10, 64)
	return int64(len(c.Text)) + max(thumb, 0)
}

func transcriptBytes(t *StoredTranscript) int64 {
	if t == nil {
		return 0
	}
	return int64(len(t.Text))
}

func chunkBytes(chunks []Chunk) int64 {
	var n int64
	for _, c := range chunks {
		n += int64(len(c.Text))
	}
	return n
}

// derivedBytes measures the stored content, thumbnail, chunks and transcripts of an item (0 when it has none).
func derivedBytes(ctx context.Context, ps ProcessingStore, it *Item) (int64, error) {
	if ps == nil {
		return 0, nil
	}
	c, err := ps.Content(ctx, it.UserID, it.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	chunks, err := ps.Chunks(ctx, it.UserID, it.ID, 0, -1)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	n := contentBytes(c) + chunkBytes(chunks)
	if isAV(it) {
		trs, err := ps.Transcripts(ctx, it.UserID, it.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return 0, err
		}
		for i := range trs {
			n += transcriptBytes(&trs[i])
		}
	}
	return n, nil
}

// estimateChunkBytes is what chunking a text of n bytes will store under o: every byte
// once, plus the overlaps (size/(size-overlap) times in all); n without chunking.
func (p *Pipeline) estimateChunkBytes(o ProcessOptions, n int64) int64 {
	if o.NoChunking || p.Chunker == nil {
		return 0
	}
	co, err := o.Chunk.Normalized()
	if err != nil || co.Size <= co.Overlap {
		return n
	}
	return n * int64(co.Size) / int64(co.Size-co.Overlap)
}

// charge runs write, which replaces oldN stored derived bytes of it by newN, charging the
// difference to the owner's storage quota: it reserves newN-oldN (plus extra, held only to
// check that what a later stage will store fits too) before write and commits it in one
// Ledger.Locked step with write, or frees bytes when newN < oldN. When the bytes do not fit,
// write is not called and the error is ErrQuotaExceeded (also quota.ErrExceeded), audited.
func (p *Pipeline) charge(ctx context.Context, it *Item, oldN, newN, extra int64, write func(ctx context.Context) error) error {
	if p.Ledger == nil {
		return write(ctx)
	}
	sub := subject(it.UserID)
	delta := newN - oldN
	var res quota.Reservation
	if delta > 0 || extra > 0 {
		var err error
		res, err = p.Ledger.Reserve(ctx, sub, quota.ResourceStorage, max(delta, 0)+extra, DefaultReservationTTL)
		if errors.Is(err, quota.ErrExceeded) {
			p.audit(ctx, it.UserID, audit.Event{Action: audit.QuotaExceeded, TargetType: "user", TargetID: sub,
				Error: "storage quota exceeded", Details: map[string]any{"resource": string(quota.ResourceStorage),
					"media_id": it.ID, "requested_bytes": max(delta, 0) + extra}})
			return fmt.Errorf("%w (%w): the text and chunks of item %d (about %d bytes) do not fit in the storage quota",
				ErrQuotaExceeded, quota.ErrExceeded, it.ID, newN+extra)
		}
		if err != nil {
			return fmt.Errorf("media: reserve storage: %w", err)
		}
		defer func() {
			if err := p.Ledger.Release(context.WithoutCancel(ctx), res); err != nil {
				p.log().ErrorContext(ctx, "media: release reservation", "reservation", res.ID, "error", err)
			}
		}() // a no-op once committed
	}
	return p.Ledger.Locked(ctx, sub, quota.ResourceStorage, func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		switch {
		case res.ID != "":
			return commitOrAdd(ctx, p.Ledger, res, delta)
		case delta < 0:
			return p.Ledger.Add(ctx, sub, quota.ResourceStorage, delta)
		}
		return nil
	})
}

// dropDerived removes the item's content and chunks after a stage failed with cause (over
// the storage quota) and frees the bytes they were charged, so that the failed item holds
// only its original: an item that does not fit leaves nothing derived behind. It returns
// cause, joined with the error of a removal that failed.
func (p *Pipeline) dropDerived(ctx context.Context, it *Item, cause error) error {
	ctx = context.WithoutCancel(ctx)
	drop := func(ctx context.Context) error {
		n, err := derivedBytes(ctx, p.Processing, it)
		if err != nil {
			return err
		}
		if err := p.Processing.DeleteContent(ctx, it.UserID, it.ID); err != nil {
			return err
		}
		if p.Ledger == nil || n == 0 {
			return nil
		}
		return p.Ledger.Add(ctx, subject(it.UserID), quota.ResourceStorage, -n)
	}
	var err error
	if p.Ledger == nil {
		err = drop(ctx)
	} else {
		err = p.Ledger.Locked(ctx, subject(it.UserID), quota.ResourceStorage, drop)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("media: remove the text of item %d: %w", it.ID, err))
	}
	return fmt.Errorf("%w (its text was removed)", cause)
}

// commitOrAdd commits res to n units; if the reservation expired meanwhile (swept), n is
// added directly. n < 0 commits nothing and frees -n.
func commitOrAdd(ctx context.Context, l quota.Ledger, res quota.Reservation, n int64) error {
	err := l.Commit(ctx, res, max(n, 0))
	if errors.Is(err, quota.ErrNotFound) {
		err = l.Add(ctx, res.Subject, res.Resource, max(n, 0))
	}
	if err == nil && n < 0 {
		err = l.Add(ctx, res.Subject, res.Resource, n)
	}
	if err != nil {
		return fmt.Errorf("media: commit storage: %w", err)
	}
	return nil
}

func (p *Pipeline) ocrBudget() quota.Budget {
	return quota.Budget{Ledger: p.Ledger, Resource: quota.ResourceOCRPages, PerDay: p.OCRPagesPerDay, Now: p.Now}
}

// ocrOptions caps the pages the extractor may OCR at what is left of the owner's daily OCR
// budget (at least one: an item that needs no OCR must not fail because the budget is used
// up, and an extractor's cap cannot say "none"; chargeOCR refuses that page afterwards);
// capped reports that the budget lowered the cap.
func (p *Pipeline) ocrOptions(ctx context.Context, it *Item, o ExtractOptions) (_ ExtractOptions, capped bool, _ error) {
	b := p.ocrBudget()
	if b.Unlimited() || o.OCRMode == OCROff {
		return o, false, nil
	}
	left, err := b.Remaining(ctx, subject(it.UserID))
	if err != nil {
		return o, false, fmt.Errorf("media: read OCR budget: %w", err)
	}
	if left < int64(o.OCRPageCap()) {
		o.MaxOCRPages = int(max(left, 1))
		return o, true, nil
	}
	return o, false, nil
}

// chargeOCR charges the pages x reports under MetaOCRPages to the owner's OCR budget;
// ErrBudgetExceeded (audited) when concurrent jobs used up the budget meanwhile.
func (p *Pipeline) chargeOCR(ctx context.Context, it *Item, x *Extracted) error {
	b := p.ocrBudget()
	n, _ := strconv.ParseInt(x.Metadata[MetaOCRPages], 10, 64)
	if b.Unlimited() || n <= 0 {
		return nil
	}
	res, err := b.Reserve(ctx, subject(it.UserID), n, DefaultReservationTTL)
	if errors.Is(err, quota.ErrExceeded) {
		left, _ := b.Remaining(ctx, subject(it.UserID))
		return p.ocrBudgetErr(ctx, it, b, n, left)
	}
	if err == nil {
		err = b.Commit(ctx, res, n)
	}
	if err != nil {
		return fmt.Errorf("media: charge OCR budget: %w", err)
	}
	return nil
}

func (p *Pipeline) ocrBudgetErr(ctx context.Context, it *Item, b quota.Budget, requested, left int64) error {
	e := budgetEvent(b, CodeOCRPagesPerDay, requested, left)
	e.TargetID, e.Details["media_id"] = subject(it.UserID), it.ID
	p.audit(ctx, it.UserID, e)
	return budgetError(b, CodeOCRPagesPerDay, left)
}

func (p *Pipeline) audit(ctx context.Context, userID int64, e audit.Event) {
	if p.Audit == nil {
		return
	}
	e.UserID, e.Time = userID, p.now()
	if err := p.Audit.Write(ctx, e); err != nil {
		p.log().ErrorContext(ctx, "media: audit write failed", "action", e.Action, "error", err)
	}
}
