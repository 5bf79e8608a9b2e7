DROP TABLE notice_objections;
DROP TABLE deed_photos;
DROP TABLE deed_reports;
