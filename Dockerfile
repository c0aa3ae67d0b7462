# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tldwd ./hosts/tldwd \
 && mkdir -p -m 0700 /out/data && chown 10001:10001 /out/data

# The media pipeline runs these tools (bounded, one process group each): pdftotext/pdfinfo/
# pdftoppm for PDFs, tesseract for OCR, pandoc for ODT/RTF, ffmpeg for audio and video,
# pocketsphinx for offline transcription, yt-dlp for video-site URLs.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates poppler-utils tesseract-ocr \
    tesseract-ocr-eng pandoc ffmpeg pocketsphinx pocketsphinx-en-us yt-dlp \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin tldw
COPY --from=build /out/tldwd /usr/local/bin/tldwd
COPY --from=build --chown=10001:10001 /out/data /data
USER 10001:10001
ENV TLDW_DATA_DIR=/data TLDW_ADDR=0.0.0.0:8000
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/tldwd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tldwd"]
CMD ["serve"]
