// Package ffmpeg is media.AV on the ffmpeg and ffprobe programs (Debian package ffmpeg):
// Probe reads ffprobe's JSON (duration, streams, codecs, tags), Decode writes the 16 kHz
// mono s16le WAV every media.Transcriber hears (cut to the form's start_time and
// end_time), Thumbnail returns one JPEG frame of a video, and Silences runs ffmpeg's
// silencedetect filter (vad_use, and splitting long audio on pauses).
//
// Every program runs through media.Run (own temporary directory, timeout, memory limit,
// process group killed on cancel). Inputs are opened as "file:" URLs with only the file
// protocol and a list of container demuxers allowed, so an upload that is really an HLS
// playlist, a concat script or ANSI art cannot make ffmpeg read other files or the network.
package ffmpeg
