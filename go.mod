module github.com/roster-dev/roster

go 1.26.8
