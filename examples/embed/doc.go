// Command embed serves its own routes and mounts a complete tldw server under /tldw/.
//
//	go run ./examples/embed            # then: curl localhost:8080/tldw/api/v1/health
package main
