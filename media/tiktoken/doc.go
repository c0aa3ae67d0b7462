// Package tiktoken counts BPE tokens for chunk_method=tokens with github.com/pkoukk/tiktoken-go
// and OpenAI's cl100k_base encoding, whose ranks github.com/pkoukk/tiktoken-go-loader embeds
// in the binary: nothing is downloaded at run time. [Tokenizer.Tokens] is the Tokens
// function media.TextChunker needs.
package tiktoken
