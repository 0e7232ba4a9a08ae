/* gridmap dashboard: when the login session has ended (expired, logged out elsewhere, server
 * restarted), the server answers the page's callbacks with 401. Instead of a page that silently
 * stops updating, go to the login page, which brings the planner back to this page afterwards.
 * Loopback servers without accounts never answer 401, so this never fires there.
 */
(function () {
  "use strict";
  const LOGIN = "/_gridmap/login";
  const plain = window.fetch.bind(window);
  let leaving = false;
  window.fetch = function (input, init) {
    return plain(input, init).then(function (response) {
      const url = typeof input === "string" ? input : (input && input.url) || "";
      if (response.status === 401 && url.indexOf("/_dash-") !== -1 && !leaving) {
        leaving = true;
        const next = encodeURIComponent(window.location.pathname);
        window.location.assign(LOGIN + "?next=" + next);
      }
      return response;
    });
  };
})();
