// Package email is the media.Extractor for e-mail: single messages (.eml, message/rfc822)
// and mailboxes (.mbox). Each message gives its headers (From, To, Cc, Date, Subject), its
// text parts, its HTML parts through an HTML extractor it is given, and the names of its
// attachments, which are listed and never unpacked. A mailbox has a section per message.
package email
