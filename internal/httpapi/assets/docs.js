// Starts Swagger UI on /docs against this server's own OpenAPI document. Everything it loads
// comes from this origin (the page's CSP allows nothing else); "Try it out" sends requests to
// the same origin with the browser's cookies.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    withCredentials: true,
    persistAuthorization: false,
  });
});
