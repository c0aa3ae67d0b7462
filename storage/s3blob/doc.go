// Package s3blob stores storage.Blobs objects in S3-compatible object storage (AWS S3, MinIO,
// Cloudflare R2, ...) with minio-go.
//
// It is selected by MEDIA_STORAGE_URL=s3://bucket/prefix (see ParseURL). The URL names the
// bucket and an optional key prefix and may carry query parameters:
//
//	endpoint=host:port    S3 endpoint; default s3.amazonaws.com (env S3_ENDPOINT)
//	region=name           bucket region, "auto" for R2; empty asks the server (env AWS_REGION)
//	ssl=false             plain HTTP; default true
//	path_style=true       path-style bucket addressing (MinIO); default: chosen by endpoint
//	part_size_mb=16       multipart part size in MiB, 5 or more; default 8
//
// Credentials never appear in the URL: the application fills Options.AccessKey and
// Options.SecretKey from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and Region and Endpoint
// from AWS_REGION and S3_ENDPOINT when the URL does not set them. Empty credentials mean
// anonymous requests.
//
// Object names are Prefix + "/" + key. Put streams: an object up to 1 MiB is sent with one
// PUT; a larger one is uploaded in parts of Options.PartSize, and a failure (reader error,
// cancellation, PutOptions.MaxSize exceeded) aborts the multipart upload, so no partial object
// appears. Peak memory per Put is about PartSize + 2 MiB (minio-go holds one part at a time;
// 10 concurrent uploads with the default 8 MiB parts need about 100 MiB), and objects are
// limited to 10,000 parts (about 78 GiB with 8 MiB parts).
//
// Content types are stored with the object: PutOptions.ContentType, else the type for the
// key's extension, else application/octet-stream. List reports no content type (S3 listings
// do not carry it). ETags are the server's.
package s3blob
