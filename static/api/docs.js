// The API reference: swagger-ui reading the description this server makes.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false,
    validatorUrl: null,
    persistAuthorization: false,
  });
});
