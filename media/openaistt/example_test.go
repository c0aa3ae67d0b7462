package openaistt_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/openaistt"
)

// A faster-whisper-server (speaches) on the local network; for OpenAI, BaseURL
// https://api.openai.com and an APIKey; for Groq, https://api.groq.com/openai/v1.
func ExampleNew() {
	stt, err := openaistt.New(openaistt.Config{
		BaseURL: "http://localhost:8000",
		Model:   "Systran/faster-distil-whisper-large-v3",
		APIKey:  os.Getenv("STT_API_KEY"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stt.Endpoint())
	// The WAV a media.AV's Decode wrote.
	t, err := stt.Transcribe(context.Background(), media.Audio{Path: "talk.wav"}, media.TranscribeOptions{Language: "en"})
	if err == nil {
		for _, s := range t.Segments {
			fmt.Printf("[%v - %v] %s\n", s.Start, s.End, s.Text)
		}
	}
	// Output: http://localhost:8000/v1/audio/transcriptions
}
