// Starts Swagger UI on /docs over this server's /openapi.yaml (a file, not inline: the page's
// CSP allows scripts from 'self' only).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayRequestDuration: true,
    validatorUrl: null,  // never send the description to an outside validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
