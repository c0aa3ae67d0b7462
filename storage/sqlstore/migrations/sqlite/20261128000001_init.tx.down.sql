DROP TABLE tldw_meta;
