/* kernelvis atlas: sorting and filtering of layer pages, GIF fallback for videos, and a self-check.
   Loaded synchronously in <head> so its error hooks see everything that goes wrong on the page.
   No network, no modules: works from file:// and any static host. */
(function () {
  "use strict";
  var problems = { errors: [], broken: [] };

  // Every error the page meets: script errors, failed resources (captured: they do not bubble), console.error.
  window.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target !== window && (target.src || target.currentSrc)) {
      problems.broken.push(target.src || target.currentSrc);
    } else {
      problems.errors.push(String(event.message || event.error));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (event) {
    problems.errors.push("unhandled rejection: " + String(event.reason));
  });
  var consoleError = console.error;
  console.error = function () {
    problems.errors.push(Array.prototype.join.call(arguments, " "));
    return consoleError.apply(console, arguments);
  };

  // A video whose source fails shows its GIF instead.
  function fallBackToGif(video) {
    if (!video || video.dataset.fellBack) { return; }
    video.dataset.fellBack = "1";
    var image = document.createElement("img");
    image.src = video.dataset.gif;
    image.alt = video.getAttribute("aria-label") || "animation";
    image.className = video.className;
    video.replaceWith(image);
  }
  document.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target.tagName === "SOURCE" && target.parentNode && target.parentNode.dataset.gif) {
      fallBackToGif(target.parentNode);
    }
  }, true);

  // Card animations: each card ships its poster as a lazy <img data-mp4 data-gif> (nothing loads off screen, no
  // media player per card); coming into view turns it into a looping muted <video>, which plays while on screen.
  function toVideo(image) {
    var video = document.createElement("video");
    video.className = image.className;
    video.muted = true; video.loop = true; video.playsInline = true; video.preload = "auto";
    video.setAttribute("muted", ""); video.setAttribute("playsinline", "");
    video.setAttribute("poster", image.getAttribute("src"));
    video.setAttribute("aria-label", image.alt || "animation");
    video.dataset.gif = image.dataset.gif;
    var source = document.createElement("source");
    source.type = "video/mp4";
    source.src = image.dataset.mp4;
    video.appendChild(source);
    image.replaceWith(video);
    return video;
  }
  function play(video) {
    var playing = video.play();
    if (playing && playing.catch) { playing.catch(function () {}); }
  }
  function playVisible() {
    var nodes = document.querySelectorAll("img.anim[data-mp4], video.anim");
    if (!("IntersectionObserver" in window) || !nodes.length) { return; }
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (still) { return; }  // posters only
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var node = entry.target;
        if (entry.isIntersecting) {
          if (node.tagName === "IMG") {
            observer.unobserve(node);
            node = toVideo(node);
            observer.observe(node);
            node.addEventListener("mouseenter", function () { play(node); });
          }
          play(node);
        } else if (node.tagName === "VIDEO") { node.pause(); }
      });
    }, { threshold: 0.5 });
    nodes.forEach(function (node) {
      observer.observe(node);
      if (node.tagName === "VIDEO") { node.addEventListener("mouseenter", function () { play(node); }); }
    });
  }

  // ------------------------------------------------------------------ layer pages: sort and filter
  function layerPage() {
    var dataNode = document.getElementById("atlas-data");
    var container = document.getElementById("cards");
    if (!dataNode || !container) { return; }
    var kernels = JSON.parse(dataNode.textContent).kernels;
    var cards = {};
    kernels.forEach(function (k) { cards[k.id] = document.getElementById(k.id); });
    var controls = {
      sort: document.getElementById("sort"), order: document.getElementById("order"),
      audit: document.getElementById("audit"), status: document.getElementById("status")
    };
    var ranges = Array.prototype.slice.call(document.querySelectorAll("input[data-min], input[data-max]"));

    function readHash() {
      var state = {};
      location.hash.replace(/^#/, "").split("&").forEach(function (pair) {
        var parts = pair.split("=");
        if (parts[0]) { state[decodeURIComponent(parts[0])] = decodeURIComponent(parts[1] || ""); }
      });
      ["sort", "order", "audit", "status"].forEach(function (name) {
        if (state[name] !== undefined) { controls[name].value = state[name]; }
      });
      ranges.forEach(function (input) {
        var name = (input.dataset.min ? "min_" + input.dataset.min : "max_" + input.dataset.max);
        if (state[name] !== undefined) { input.value = state[name]; }
      });
    }

    function writeHash() {
      var parts = [];
      ["sort", "order", "audit", "status"].forEach(function (name) {
        if (controls[name].value) { parts.push(name + "=" + encodeURIComponent(controls[name].value)); }
      });
      ranges.forEach(function (input) {
        if (input.value !== "") {
          var name = input.dataset.min ? "min_" + input.dataset.min : "max_" + input.dataset.max;
          parts.push(name + "=" + encodeURIComponent(input.value));
        }
      });
      history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
    }

    function keep(k) {
      var audit = controls.audit.value;
      if (audit === "pass" && k.audit_pass !== true) { return false; }
      if (audit === "fail" && k.audit_pass !== false) { return false; }
      if (controls.status.value && k.status !== controls.status.value) { return false; }
      return ranges.every(function (input) {
        if (input.value === "") { return true; }
        var key = input.dataset.min || input.dataset.max, value = k[key], bound = parseFloat(input.value);
        if (value === null || value === undefined) { return false; }
        return input.dataset.min ? value >= bound : value <= bound;
      });
    }

    function apply() {
      var key = controls.sort.value, sign = controls.order.value === "desc" ? -1 : 1;
      var ordered = kernels.slice().sort(function (a, b) {
        var x = a[key], y = b[key];
        var missingX = x === null || x === undefined, missingY = y === null || y === undefined;
        if (missingX !== missingY) { return missingX ? 1 : -1; }  // unknown values last, either order
        if (!missingX && x !== y) { return sign * (x < y ? -1 : 1); }
        return a.kernel - b.kernel;
      });
      var shown = 0;
      ordered.forEach(function (k) {
        var card = cards[k.id];
        container.appendChild(card);
        card.hidden = !keep(k);
        if (!card.hidden) { shown += 1; }
      });
      document.getElementById("count").textContent = "showing " + shown + " of " + kernels.length + " kernels";
    }

    Object.keys(controls).forEach(function (name) {
      controls[name].addEventListener("change", function () { apply(); writeHash(); });
    });
    ranges.forEach(function (input) { input.addEventListener("input", function () { apply(); writeHash(); }); });
    document.getElementById("reset").addEventListener("click", function () {
      controls.sort.value = "kernel"; controls.order.value = "asc"; controls.audit.value = ""; controls.status.value = "";
      ranges.forEach(function (input) { input.value = ""; });
      apply(); writeHash();
    });
    window.addEventListener("hashchange", function () { readHash(); apply(); });
    readHash();
    apply();
  }

  // ------------------------------------------------------------------ self-check (?selfcheck)
  // Loads every picture and video of the page for real and writes what failed into <pre id="selfcheck">,
  // so a headless browser run (`chromium --dump-dom`) can report broken references and errors.
  function probeImage(src) {
    return new Promise(function (resolve) {
      var image = new Image();
      image.onload = function () { resolve(image.naturalWidth > 0 ? null : src); };
      image.onerror = function () { resolve(src); };
      image.src = src;
    });
  }
  function probeVideo(src) {
    return new Promise(function (resolve) {
      var video = document.createElement("video");
      video.muted = true; video.preload = "auto";
      video.onloadeddata = function () { resolve(video.videoWidth > 0 ? null : src); video.removeAttribute("src"); };
      video.onerror = function () { resolve(src); };
      video.src = src;
    });
  }
  function selfCheck() {
    var images = [], videos = [];
    document.querySelectorAll("img").forEach(function (node) { images.push(node.src); });
    document.querySelectorAll("video").forEach(function (node) {
      if (node.poster) { images.push(node.poster); }
      if (node.dataset.gif) { images.push(new URL(node.dataset.gif, location.href).href); }
    });
    document.querySelectorAll("video source").forEach(function (node) { videos.push(node.src); });
    document.querySelectorAll("img[data-mp4]").forEach(function (node) {  // cards not (yet) turned into videos
      videos.push(new URL(node.dataset.mp4, location.href).href);
      images.push(new URL(node.dataset.gif, location.href).href);
    });
    var unique = function (list) { return list.filter(function (x, i) { return list.indexOf(x) === i; }); };
    images = unique(images); videos = unique(videos);
    Promise.all(images.map(probeImage).concat(videos.map(probeVideo))).then(function (results) {
      var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
      var report = {
        done: true, images: images.length, videos: videos.length,
        broken: unique(problems.broken.concat(results.filter(Boolean))), errors: problems.errors,
        visible: cards.filter(function (c) { return !c.hidden; }).map(function (c) { return Number(c.dataset.kernel); })
      };
      var pre = document.createElement("pre");
      pre.id = "selfcheck"; pre.hidden = true; pre.textContent = JSON.stringify(report);
      document.body.appendChild(pre);
    });
  }

  // ?timing: when the page finished loading (ms after navigation start), for the browser test of a whole layer.
  window.addEventListener("load", function () {
    if (!/[?&]timing\b/.test(location.search)) { return; }
    var navigation = performance.getEntriesByType("navigation")[0] || {};
    var pre = document.createElement("pre");
    pre.id = "timing"; pre.hidden = true;
    pre.textContent = JSON.stringify({
      dom_interactive_ms: Math.round(navigation.domInteractive || 0),
      dom_content_loaded_ms: Math.round(navigation.domContentLoadedEventEnd || 0),
      load_ms: Math.round(performance.now()),
      cards: document.querySelectorAll(".card").length,
      videos: document.querySelectorAll("video").length
    });
    document.body.appendChild(pre);
  });

  document.addEventListener("DOMContentLoaded", function () {
    layerPage();
    playVisible();
    if (/[?&]selfcheck\b/.test(location.search)) { selfCheck(); }
  });
})();
