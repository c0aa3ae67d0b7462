package email

import (
	"errors"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/media/readability"
)

const simple = "From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: =?UTF-8?Q?Caf=C3=A9_plans?=\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nSee you at noon.\r\n"

const rich = `From: ann@example.com
To: bob@example.com
Subject: Report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

The numbers are in =E2=80=94 see attached.
--inner
Content-Type: text/html; charset=utf-8

<p>The numbers are in &mdash; <b>see attached</b>.</p>
--inner--
--outer
Content-Type: application/pdf; name="q3.pdf"
Content-Disposition: attachment; filename="q3.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: text/html

<html><body><p>Footer in <i>HTML</i> only.</p><script>evil()</script></body></html>
--outer--
`

func TestConformance(t *testing.T) {
	mediatest.TestExtractor(t, Extractor{HTML: readability.Extractor{}}, []mediatest.ExtractCase{
		{Name: "m.eml", ContentType: "message/rfc822", Data: []byte(simple),
			Want: "From: Ann <ann@example.com>\nTo: bob@example.com\nDate: Mon, 30 Nov 2026 10:00:00 +0000\nSubject: Café plans\n\nSee you at noon."},
	}, mediatest.ExtractCase{Name: "x.pdf", ContentType: "application/pdf", Data: []byte("%PDF")})
}

func TestMultipart(t *testing.T) {
	got, err := Extractor{HTML: readability.Extractor{}}.Extract(t.Context(), mediatest.BytesSource("r.eml", "text/plain", []byte(rich)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: Report", "The numbers are in — see attached.", "Footer in HTML only.", "Attachments: q3.pdf"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, got.Text)
		}
	}
	if strings.Contains(got.Text, "<b>") || strings.Contains(got.Text, "evil") || strings.Count(got.Text, "The numbers are in") != 1 {
		t.Errorf("HTML alternative or script leaked:\n%s", got.Text)
	}
	if got.Title != "Report" {
		t.Errorf("title %q", got.Title)
	}
}

func TestMbox(t *testing.T) {
	mbox := "From ann@example.com Mon Nov 30 10:00:00 2026\n" + strings.ReplaceAll(simple, "\r\n", "\n") +
		"\nFrom bob@example.com Mon Nov 30 11:00:00 2026\nFrom: bob@example.com\nSubject: Re: plans\n\n>From here on, yes.\n"
	got, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("box.mbox", "text/plain", []byte(mbox)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Sections) != 2 || got.Sections[1].Title != "Re: plans" || !strings.Contains(got.Text, "\nFrom here on, yes.") ||
		!strings.HasPrefix(got.Text[got.Sections[1].Offset:], "From: bob@example.com") {
		t.Errorf("mbox: %+v\n%s", got.Sections, got.Text)
	}
}

func TestNotAMessage(t *testing.T) {
	_, err := Extractor{}.Extract(t.Context(), mediatest.BytesSource("x.eml", "text/plain", []byte("no headers at all, just words")))
	if !errors.Is(err, media.ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
}
