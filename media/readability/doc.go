// Package readability is the media.Extractor for web pages: the article text that Mozilla's
// Readability algorithm finds (codeberg.org/readeck/go-readability), falling back to all
// visible text when a page has no article (a list, a form, a short note). The character set
// comes from the Content-Type, the page's <meta>, or a guess, as browsers do.
package readability
