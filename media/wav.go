package media

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"
)

// PCM is mono 16-bit audio at SampleRate Hz: what a Transcriber hears, in memory.
type PCM []int16

// Duration is the length of p.
func (p PCM) Duration() time.Duration {
	return time.Duration(len(p)) * time.Second / SampleRate
}

// Slice returns the samples of p between from and to (clamped to p).
func (p PCM) Slice(from, to time.Duration) PCM {
	i, j := sampleAt(from, len(p)), sampleAt(to, len(p))
	if i >= j {
		return nil
	}
	return p[i:j]
}

func sampleAt(d time.Duration, n int) int {
	return min(max(0, int(d*SampleRate/time.Second)), n)
}

// wavHeader is the 44-byte header of a canonical PCM WAV file.
type wavHeader struct {
	RIFF          [4]byte
	Size          uint32
	WAVE          [4]byte
	Fmt           [4]byte
	FmtSize       uint32
	Format        uint16
	Channels      uint16
	SampleRate    uint32
	ByteRate      uint32
	BlockAlign    uint16
	BitsPerSample uint16
	Data          [4]byte
	DataSize      uint32
}

// WriteWAV writes p to w as a WAV file (SampleRate Hz, mono, s16le).
func WriteWAV(w io.Writer, p PCM) error {
	n := uint32(2 * len(p))
	h := wavHeader{RIFF: [4]byte{'R', 'I', 'F', 'F'}, Size: 36 + n, WAVE: [4]byte{'W', 'A', 'V', 'E'},
		Fmt: [4]byte{'f', 'm', 't', ' '}, FmtSize: 16, Format: 1, Channels: 1, SampleRate: SampleRate,
		ByteRate: 2 * SampleRate, BlockAlign: 2, BitsPerSample: 16, Data: [4]byte{'d', 'a', 't', 'a'}, DataSize: n}
	bw := bufio.NewWriter(w)
	if err := binary.Write(bw, binary.LittleEndian, h); err != nil {
		return err
	}
	if err := binary.Write(bw, binary.LittleEndian, []int16(p)); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteWAVFile writes p to a new file at path.
func WriteWAVFile(path string, p PCM) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = WriteWAV(f, p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadWAVFile reads a WAV file of SampleRate Hz mono s16le (what AV.Decode writes), at most
// max samples (0: no cap; more is ErrTooLarge). Other formats are ErrInvalid.
func ReadWAVFile(path string, max int) (PCM, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil || string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a WAV file", ErrInvalid)
	}
	fmtOK := false
	for {
		var id [4]byte
		var size uint32
		if _, err := io.ReadFull(r, id[:]); err != nil {
			return nil, fmt.Errorf("%w: WAV file without data", ErrInvalid)
		}
		if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
			return nil, fmt.Errorf("%w: truncated WAV file", ErrInvalid)
		}
		switch string(id[:]) {
		case "fmt ":
			var f struct {
				Format, Channels     uint16
				Rate, ByteRate       uint32
				BlockAlign, BitDepth uint16
			}
			if size < 16 || binary.Read(r, binary.LittleEndian, &f) != nil {
				return nil, fmt.Errorf("%w: bad WAV format chunk", ErrInvalid)
			}
			if f.Format != 1 || f.Channels != 1 || f.Rate != SampleRate || f.BitDepth != 16 {
				return nil, fmt.Errorf("%w: WAV must be %d Hz mono 16-bit PCM (got format %d, %d channels, %d Hz, %d bits)",
					ErrInvalid, SampleRate, f.Format, f.Channels, f.Rate, f.BitDepth)
			}
			if _, err := r.Discard(int(size - 16 + size%2)); err != nil {
				return nil, fmt.Errorf("%w: truncated WAV file", ErrInvalid)
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, fmt.Errorf("%w: WAV data before its format", ErrInvalid)
			}
			n := int(size / 2)
			if size == 0xFFFFFFFF || size == 0 { // streamed WAV (ffmpeg to a pipe): read to the end
				n = -1
			}
			return readSamples(r, n, max)
		default:
			if _, err := r.Discard(int(size + size%2)); err != nil {
				return nil, fmt.Errorf("%w: truncated WAV file", ErrInvalid)
			}
		}
	}
}

// readSamples reads n samples (n < 0: to EOF), at most max (0: no cap).
func readSamples(r io.Reader, n, max int) (PCM, error) {
	if max > 0 && n > max {
		return nil, fmt.Errorf("%w: audio longer than %s", ErrTooLarge, PCM(make([]int16, max)).Duration())
	}
	var p PCM
	if n >= 0 {
		p = make(PCM, 0, n)
	}
	buf := make([]byte, 64<<10)
	for n < 0 || len(p) < n {
		k, err := io.ReadFull(r, buf)
		for i := 0; i+1 < k; i += 2 {
			p = append(p, int16(binary.LittleEndian.Uint16(buf[i:])))
		}
		if max > 0 && len(p) > max {
			return nil, fmt.Errorf("%w: audio longer than %s", ErrTooLarge, PCM(make([]int16, max)).Duration())
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if n >= 0 && len(p) > n {
		p = p[:n]
	}
	return p, nil
}
