package openaistt

import "strings"

// languages maps the English names OpenAI answers with (Whisper's list) to ISO 639-1 codes
// (639-3 where a language has none: haw, yue).
var languages = map[string]string{
	"afrikaans": "af", "albanian": "sq", "amharic": "am", "arabic": "ar", "armenian": "hy",
	"assamese": "as", "azerbaijani": "az", "bashkir": "ba", "basque": "eu", "belarusian": "be",
	"bengali": "bn", "bosnian": "bs", "breton": "br", "bulgarian": "bg", "burmese": "my",
	"cantonese": "yue", "castilian": "es", "catalan": "ca", "chinese": "zh", "croatian": "hr",
	"czech": "cs", "danish": "da", "dutch": "nl", "english": "en", "estonian": "et",
	"faroese": "fo", "finnish": "fi", "flemish": "nl", "french": "fr", "galician": "gl",
	"georgian": "ka", "german": "de", "greek": "el", "gujarati": "gu", "haitian": "ht",
	"haitian creole": "ht", "hausa": "ha", "hawaiian": "haw", "hebrew": "he", "hindi": "hi",
	"hungarian": "hu", "icelandic": "is", "indonesian": "id", "italian": "it", "japanese": "ja",
	"javanese": "jv", "kannada": "kn", "kazakh": "kk", "khmer": "km", "korean": "ko",
	"lao": "lo", "latin": "la", "latvian": "lv", "letzeburgesch": "lb", "lingala": "ln",
	"lithuanian": "lt", "luxembourgish": "lb", "macedonian": "mk", "malagasy": "mg",
	"malay": "ms", "malayalam": "ml", "maltese": "mt", "mandarin": "zh", "maori": "mi",
	"marathi": "mr", "moldavian": "ro", "moldovan": "ro", "mongolian": "mn", "myanmar": "my",
	"nepali": "ne", "norwegian": "no", "nynorsk": "nn", "occitan": "oc", "panjabi": "pa",
	"pashto": "ps", "persian": "fa", "polish": "pl", "portuguese": "pt", "punjabi": "pa",
	"pushto": "ps", "romanian": "ro", "russian": "ru", "sanskrit": "sa", "serbian": "sr",
	"shona": "sn", "sindhi": "sd", "sinhala": "si", "sinhalese": "si", "slovak": "sk",
	"slovenian": "sl", "somali": "so", "spanish": "es", "sundanese": "su", "swahili": "sw",
	"swedish": "sv", "tagalog": "tl", "tajik": "tg", "tamil": "ta", "tatar": "tt",
	"telugu": "te", "thai": "th", "tibetan": "bo", "turkish": "tr", "turkmen": "tk",
	"ukrainian": "uk", "urdu": "ur", "uzbek": "uz", "valencian": "ca", "vietnamese": "vi",
	"welsh": "cy", "yiddish": "yi", "yoruba": "yo",
}

// Language returns the ISO 639-1 code of a language a provider named ("english" or
// "English" is "en"); a code, or a name it does not know, comes back lower-cased as it is.
func Language(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if code, ok := languages[s]; ok {
		return code
	}
	return s
}

// requestLanguage is the language field sent for the form's transcription_language: a
// code ("en", "en-US" and "en_us" are "en"), or a name mapped to its code; "" or "auto"
// sends none (the provider detects it).
func requestLanguage(s string) string {
	s = Language(s)
	if s == "auto" {
		return ""
	}
	if i := strings.IndexAny(s, "-_"); i == 2 || i == 3 {
		s = s[:i]
	}
	return s
}
