DROP TABLE media_keywords;
DROP TABLE keywords;
DROP TABLE media_entries;
