-- An event's poster (issue 22): the addresses of its two sizes, both set or both NULL. The image
-- files themselves live on disk (`proeventa serve`) or in S3 behind CloudFront, never here.
ALTER TABLE events ADD COLUMN poster_small TEXT;
ALTER TABLE events ADD COLUMN poster_large TEXT;
